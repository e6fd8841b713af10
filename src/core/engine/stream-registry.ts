import type { AccountEvent } from '../events/event.js';
import type { EventSelector } from '../definitions/definition.js';
import { detachString } from '../detach-string.js';
import type { LogMeasure } from './entry-log.js';
import { compilePredicate, readPath, toNumber, type ValuePredicate } from './predicate.js';

/** What a stream records per matched event besides its time. */
export type StreamMeasure =
  | { readonly kind: 'none' }
  /** Only the earliest event of each UTC day (activity for `returned_within`). */
  | { readonly kind: 'daily' }
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
  readonly logMeasure: LogMeasure;
  /**
   * How much history (ms before the account's latest input) its readers need entry by entry; older entries
   * are folded into a count and a sum. Infinity keeps everything (anchored windows, distinct over all time,
   * funnels, anchors). Set while definitions compile, plus the allowed lateness when the registry is sealed.
   */
  historyMs: number;
  /** Entries at the start of the log that are never folded (the k-th entry time answers "first held"). */
  headKeep: number;
  /** True when a reader needs every entry (so past values, like first-held times, stay exact). */
  keepsAll: boolean;
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
  /** User id → user index; the engine keeps users as these numbers (one string per user, not per account). */
  private readonly userIndexes = new Map<string, number>();
  private readonly userNames: string[] = [];
  /** User index → interned distinct key (`u:<id>`), or -1 until a distinct-users stream needs it. */
  private readonly userKeys: number[] = [];
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
    const logMeasure: LogMeasure =
      measure.kind === 'none' || measure.kind === 'daily' || measure.kind === 'sum'
        ? measure.kind
        : measure.kind === 'funnel'
          ? 'mask'
          : 'key';
    const stream: Stream = {
      index: this.matchers.length,
      key,
      measureKind: measure.kind,
      logMeasure,
      historyMs: 0,
      headKeep: 0,
      keepsAll: false,
    };
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

  /** Records that a reader of `stream` needs `ms` of entry-by-entry history (Infinity: all of it). */
  requireHistory(stream: Stream, ms: number): void {
    if (ms > stream.historyMs) stream.historyMs = ms;
    if (ms === Number.POSITIVE_INFINITY) stream.keepsAll = true;
  }

  /** Records that a reader needs the first `count` entries of the log kept. */
  requireHead(stream: Stream, count: number): void {
    if (count > stream.headKeep) stream.headKeep = count;
  }

  /** Adds the allowed lateness to every stream's history, once all definitions have compiled. */
  seal(latenessMs: number): void {
    for (const matcher of this.matchers) matcher.stream.historyMs += latenessMs;
  }

  /** Interns a distinct key (a user id or a property value) to a small integer. */
  internKey(key: string): number {
    let id = this.keyIds.get(key);
    if (id === undefined) {
      id = this.keyIds.size;
      this.keyIds.set(detachString(key), id);
    }
    return id;
  }

  /** The index of a user id, assigned on first sight (one map lookup per event instead of one per use). */
  userIndex(userId: string): number {
    let index = this.userIndexes.get(userId);
    if (index === undefined) {
      index = this.userNames.length;
      const kept = detachString(userId);
      this.userIndexes.set(kept, index);
      this.userNames.push(kept);
      this.userKeys.push(-1);
    }
    return index;
  }

  /** The user id of a user index. */
  userName(index: number): string {
    return this.userNames[index] as string;
  }

  /** Number of interned keys (sizes scratch arrays for distinct counting). */
  get keyCount(): number {
    return this.keyIds.size;
  }

  /**
   * The streams the event enters, with the value each records; `user` is `userIndex(event.userId)`. The
   * result is a reused buffer, valid until the next call (no allocation per event).
   */
  match(event: AccountEvent, user: number): MatchBuffer {
    const buffer = this.buffer;
    buffer.count = 0;
    if (event.name !== undefined) {
      const named = this.namedByType.get(event.type)?.get(event.name);
      if (named !== undefined) for (const matcher of named) this.visitMatcher(matcher, event, user);
    }
    const any = this.byTypeAnyName.get(event.type);
    if (any !== undefined) for (const matcher of any) this.visitMatcher(matcher, event, user);
    return buffer;
  }

  private visit(stream: Stream, value: number): void {
    const buffer = this.buffer;
    buffer.streams[buffer.count] = stream;
    buffer.values[buffer.count] = value;
    buffer.count++;
  }

  private visitMatcher(matcher: StreamMatcher, event: AccountEvent, user: number): void {
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
    const value = this.measureValue(measure, event, user);
    if (!Number.isNaN(value)) this.visit(matcher.stream, value);
  }

  private measureValue(measure: StreamMeasure, event: AccountEvent, user: number): number {
    switch (measure.kind) {
      case 'none':
      case 'daily':
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
        let id = this.userKeys[user] as number;
        if (id === -1) {
          id = this.internKey(`u:${event.userId}`);
          this.userKeys[user] = id;
        }
        return id;
      }
      case 'funnel':
        return SKIP;
    }
  }
}
