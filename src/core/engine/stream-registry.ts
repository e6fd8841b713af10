import type { AccountEvent } from '../events/event.js';
import type { EventSelector } from '../definitions/definition.js';
import { compilePredicate, readPath, toNumber, type ValuePredicate } from './predicate.js';

/** What a stream records per matched event besides its time. */
export type StreamMeasure =
  | { readonly kind: 'none' }
  | { readonly kind: 'sum'; readonly property: readonly string[] }
  | { readonly kind: 'distinct'; readonly property: readonly string[] }
  | { readonly kind: 'user' }
  | { readonly kind: 'funnel'; readonly steps: readonly EventSelector[] };

interface CompiledSelector {
  readonly types: readonly string[];
  readonly names: readonly string[] | undefined;
  readonly where: readonly { readonly path: readonly string[]; readonly test: ValuePredicate }[];
}

/** One stream: the events of an account that a selector matches, projected to a measured value. */
export interface Stream {
  readonly index: number;
  readonly key: string;
  readonly measureKind: StreamMeasure['kind'];
  /** Whether the entry log keeps values: sums keep numbers, distinct/user/funnel keep integer keys. */
  readonly logMeasure: 'none' | 'sum' | 'key';
}

interface StreamMatcher {
  readonly stream: Stream;
  readonly selectors: readonly CompiledSelector[];
  readonly measure: StreamMeasure;
}

function compileSelector(selector: EventSelector): CompiledSelector {
  return {
    types: selector.types,
    names: selector.names,
    where: selector.where.map((p) => ({ path: p.path, test: compilePredicate(p.op, p.value) })),
  };
}

function selectorMatches(selector: CompiledSelector, event: AccountEvent): boolean {
  if (!selector.types.includes(event.type)) return false;
  if (selector.names !== undefined && (event.name === undefined || !selector.names.includes(event.name)))
    return false;
  for (const predicate of selector.where) {
    if (!predicate.test(readPath(event.properties, predicate.path))) return false;
  }
  return true;
}

/** The streams one event entered and the values they record (a reused buffer). */
export interface MatchBuffer {
  readonly streams: Stream[];
  readonly values: number[];
  count: number;
}

/** Sentinel value for "this event does not enter the stream" (e.g. a non-numeric summed property). */
export const SKIP = Number.NaN;

/**
 * The streams all loaded definitions read, shared between definitions that read the same events the
 * same way, and indexed by event type and name so an event touches only the streams that can match it.
 */
export class StreamRegistry {
  private readonly matchers: StreamMatcher[] = [];
  private readonly byKey = new Map<string, StreamMatcher>();
  private readonly byTypeAndName = new Map<string, StreamMatcher[]>();
  private readonly byTypeAnyName = new Map<string, StreamMatcher[]>();
  private readonly keyIds = new Map<string, number>();
  private readonly userKeyIds = new Map<string, number>();
  /** byTypeAndName split by type then name, so a lookup needs no string concatenation. */
  private readonly namedByType = new Map<string, Map<string, StreamMatcher[]>>();
  private readonly buffer: MatchBuffer = { streams: [], values: [], count: 0 };

  get size(): number {
    return this.matchers.length;
  }

  /** Registers (or finds) the stream for a selector set and measure; returns it. */
  register(selectors: readonly EventSelector[], measure: StreamMeasure): Stream {
    const key = JSON.stringify([selectors, measure]);
    const existing = this.byKey.get(key);
    if (existing !== undefined) return existing.stream;
    const logMeasure = measure.kind === 'none' ? 'none' : measure.kind === 'sum' ? 'sum' : 'key';
    const stream: Stream = { index: this.matchers.length, key, measureKind: measure.kind, logMeasure };
    const matcher: StreamMatcher = { stream, selectors: selectors.map(compileSelector), measure };
    this.matchers.push(matcher);
    this.byKey.set(key, matcher);
    const indexed = new Set<string>();
    for (const selector of selectors) {
      for (const type of selector.types) {
        const targets: [Map<string, StreamMatcher[]>, string][] =
          selector.names === undefined
            ? [[this.byTypeAnyName, type]]
            : selector.names.map((name) => [this.byTypeAndName, `${type}\u0000${name}`]);
        for (const [map, mapKey] of targets) {
          const marker = `${map === this.byTypeAnyName ? 'any' : 'name'}:${mapKey}`;
          if (indexed.has(marker)) continue;
          indexed.add(marker);
          const list = map.get(mapKey);
          if (list === undefined) map.set(mapKey, [matcher]);
          else list.push(matcher);
          if (map === this.byTypeAndName) {
            const name = mapKey.slice(type.length + 1);
            let names = this.namedByType.get(type);
            if (names === undefined) {
              names = new Map();
              this.namedByType.set(type, names);
            }
            names.set(name, map.get(mapKey) as StreamMatcher[]);
          }
        }
      }
    }
    return stream;
  }

  /** Interns a distinct key (a user id or a property value) to a small integer. */
  internKey(key: string): number {
    let id = this.keyIds.get(key);
    if (id === undefined) {
      id = this.keyIds.size;
      this.keyIds.set(key, id);
    }
    return id;
  }

  /** Number of interned keys (sizes scratch arrays for distinct counting). */
  get keyCount(): number {
    return this.keyIds.size;
  }

  /**
   * The streams the event enters, with the value each records. The result is a reused buffer, valid until
   * the next call (no allocation per event).
   */
  match(event: AccountEvent): MatchBuffer {
    const buffer = this.buffer;
    buffer.count = 0;
    if (event.name !== undefined) {
      const named = this.namedByType.get(event.type)?.get(event.name);
      if (named !== undefined) for (const matcher of named) this.visitMatcher(matcher, event);
    }
    const any = this.byTypeAnyName.get(event.type);
    if (any !== undefined) for (const matcher of any) this.visitMatcher(matcher, event);
    return buffer;
  }

  private visit(stream: Stream, value: number): void {
    const buffer = this.buffer;
    buffer.streams[buffer.count] = stream;
    buffer.values[buffer.count] = value;
    buffer.count++;
  }

  private visitMatcher(matcher: StreamMatcher, event: AccountEvent): void {
    const measure = matcher.measure;
    if (measure.kind === 'funnel') {
      let mask = 0;
      for (let step = 0; step < matcher.selectors.length; step++) {
        if (selectorMatches(matcher.selectors[step] as CompiledSelector, event)) mask |= 1 << step;
      }
      if (mask !== 0) this.visit(matcher.stream, mask);
      return;
    }
    let matched = false;
    for (const selector of matcher.selectors) {
      if (selectorMatches(selector, event)) {
        matched = true;
        break;
      }
    }
    if (!matched) return;
    const value = this.measureValue(measure, event);
    if (!Number.isNaN(value)) this.visit(matcher.stream, value);
  }

  private measureValue(measure: StreamMeasure, event: AccountEvent): number {
    switch (measure.kind) {
      case 'none':
        return 0;
      case 'sum': {
        const n = toNumber(readPath(event.properties, measure.property));
        return Number.isFinite(n) ? n : SKIP;
      }
      case 'distinct': {
        const v = readPath(event.properties, measure.property);
        if (v === undefined || v === null) return SKIP;
        return this.internKey(typeof v === 'object' ? JSON.stringify(v) : `v:${String(v)}`);
      }
      case 'user': {
        let id = this.userKeyIds.get(event.userId);
        if (id === undefined) {
          id = this.internKey(`u:${event.userId}`);
          this.userKeyIds.set(event.userId, id);
        }
        return id;
      }
      case 'funnel':
        return SKIP;
    }
  }
}
