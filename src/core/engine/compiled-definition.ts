import type { TraitSource } from '../events/event.js';
import type { Condition, VersionedDefinition } from '../definitions/definition.js';
import type { AccountState } from './account-state.js';
import { compileSignal, createOutcome, type CompiledSignal, type SignalOutcome } from './compiled-signal.js';
import { compilePredicate, describePredicate, toNumber } from './predicate.js';
import type { Stream, StreamRegistry } from './stream-registry.js';
import type { ClauseExplanation, Explanation, Truth } from './transition.js';

type CompiledCondition = (account: AccountState, t: number) => Truth;

interface TraitLeaf {
  readonly path: string;
  readonly trait: string;
  readonly label: string;
  readonly threshold: string;
  readonly op: string;
  readonly operand: unknown;
  readonly test: (value: unknown) => boolean;
}

/** Shared scratch for distinct counting across all compiled signals of one engine. */
export interface EngineScratch {
  stamps: Int32Array;
  stamp: number;
}

function andTruth(values: Truth[]): Truth {
  let pending = false;
  for (const v of values) {
    if (v === false) return false;
    if (v === 'pending') pending = true;
  }
  return pending ? 'pending' : true;
}

/**
 * One definition compiled to closures: its signals, its fit/qualify/exclude conditions, its explanation and
 * its time-driven deadlines. Evaluation at a time t reads only inputs at or before t.
 */
export class CompiledDefinition {
  readonly id: string;
  readonly version: number;
  readonly signals: CompiledSignal[] = [];
  /** Streams whose events can change this definition. */
  readonly streams = new Set<number>();
  readonly usesTraits: boolean;
  readonly usesSignup: boolean;
  /**
   * True when the definition can start holding by time passing alone: a windowed signal under `not` or in
   * `exclude` (its events slide out, its window closes), or a windowed upper bound (`lt`, `lte`, `eq`).
   */
  readonly timeSensitive: boolean;
  /** The signals whose value can change with time alone in a way that can make the definition hold. */
  private readonly timeSignals: CompiledSignal[] = [];
  readonly expireMs: number | undefined;
  private readonly byName = new Map<string, CompiledSignal>();
  private readonly fit: CompiledCondition | undefined;
  private readonly qualify: CompiledCondition;
  private readonly exclude: CompiledCondition | undefined;
  private readonly traitLeaves: TraitLeaf[] = [];
  private readonly positiveSignals = new Set<string>();
  private readonly memoStamp: number[] = [];
  private readonly memoTruth: Truth[] = [];
  private memoCurrent = 0;
  private anchorAccount: AccountState | undefined = undefined;
  private anchorVersion = -1;
  private anchorStamp = 0;
  private readonly anchorStamps: number[] = [];
  private readonly anchorValues: number[] = [];
  private readonly firstSignalId: number;
  private memoAccount: AccountState | undefined = undefined;
  private memoTime = Number.NaN;
  private memoVersion = -1;
  private readonly outcome: SignalOutcome = createOutcome();

  constructor(
    readonly versioned: VersionedDefinition,
    readonly index: number,
    firstSignalId: number,
    registry: StreamRegistry,
    activity: Stream,
    private readonly precedence: readonly TraitSource[],
    scratch: EngineScratch,
  ) {
    const definition = versioned.definition;
    this.id = definition.id;
    this.version = versioned.version;
    this.expireMs = definition.expireMs;
    this.firstSignalId = firstSignalId;
    const specs = new Map(definition.signals.map((s) => [s.name, s.spec]));
    const compiling = new Set<string>();
    const anchorSignal = (name: string): CompiledSignal => {
      const existing = this.byName.get(name);
      if (existing !== undefined) return existing;
      const spec = specs.get(name);
      if (spec === undefined || compiling.has(name))
        throw new Error(`definition ${definition.id}: bad signal reference "${name}"`);
      compiling.add(name);
      const signal = compileSignal(
        firstSignalId + this.byName.size,
        name,
        spec,
        registry,
        activity,
        (account, signalName) => this.anchor(account, signalName),
        anchorSignal,
        scratch,
      );
      compiling.delete(name);
      this.byName.set(name, signal);
      return signal;
    };
    for (const { name } of definition.signals) anchorSignal(name);
    // A signal used as an anchor (`after:`) must be able to say when it first held.
    for (const { spec } of definition.signals) {
      const anchorName =
        spec.kind === 'returned'
          ? spec.after
          : 'window' in spec && spec.window.kind === 'after'
            ? spec.window.signal
            : undefined;
      const anchored = anchorName === undefined ? undefined : this.byName.get(anchorName);
      if (anchored === undefined) continue;
      for (const stream of anchored.streams) {
        if (anchored.firstHeldEntry !== undefined) registry.requireHead(stream, anchored.firstHeldEntry);
        else registry.requireHistory(stream, Number.POSITIVE_INFINITY);
      }
    }
    for (const { name } of definition.signals) this.signals.push(this.byName.get(name) as CompiledSignal);
    for (const signal of this.signals) for (const stream of signal.streams) this.streams.add(stream.index);

    this.fit = definition.fit === undefined ? undefined : this.compileCondition(definition.fit, 'fit', true);
    this.qualify = this.compileCondition(definition.qualify, 'qualify', true);
    this.exclude =
      definition.exclude === undefined
        ? undefined
        : this.compileCondition(definition.exclude, 'exclude', false);
    this.usesTraits = this.traitLeaves.length > 0;
    this.usesSignup = this.signals.some((s) => s.usesSignup);
    const negatedSignals = new Set<string>();
    const collectNegated = (c: Condition | undefined, negative: boolean): void => {
      if (c === undefined) return;
      if (c.kind === 'signal' && negative) negatedSignals.add(c.name);
      else if (c.kind === 'not') collectNegated(c.of, !negative);
      else if (c.kind === 'all' || c.kind === 'any') for (const part of c.of) collectNegated(part, negative);
    };
    collectNegated(definition.qualify, false);
    collectNegated(definition.exclude, true);
    for (const signal of this.signals) {
      const spec = signal.spec;
      const windowed = spec.kind === 'returned' || spec.window.kind !== 'all';
      const upperBound =
        'compare' in spec &&
        (spec.compare.op === 'lt' || spec.compare.op === 'lte' || spec.compare.op === 'eq');
      if (windowed && (negatedSignals.has(signal.name) || upperBound)) this.timeSignals.push(signal);
    }
    this.timeSensitive = this.timeSignals.length > 0;
  }

  /** Trait names the definition reads (without a `crm.`-style source prefix). */
  traitNames(): string[] {
    return this.traitLeaves.map((leaf) => {
      const dot = leaf.trait.indexOf('.');
      const prefix = dot > 0 ? leaf.trait.slice(0, dot) : '';
      return prefix === 'crm' || prefix === 'billing' || prefix === 'product'
        ? leaf.trait.slice(dot + 1)
        : leaf.trait;
    });
  }

  /** The first-held time of a signal, cached for one account version at a time (no per-account cache). */
  anchor(account: AccountState, name: string): number | undefined {
    const signal = this.byName.get(name);
    if (signal === undefined) return undefined;
    if (this.anchorAccount !== account || this.anchorVersion !== account.version) {
      this.anchorAccount = account;
      this.anchorVersion = account.version;
      this.anchorStamp++;
    }
    const slot = signal.id - this.firstSignalId;
    if (this.anchorStamps[slot] === this.anchorStamp) {
      const cached = this.anchorValues[slot] as number;
      return Number.isNaN(cached) ? undefined : cached;
    }
    const value = signal.firstHeld(account);
    this.anchorStamps[slot] = this.anchorStamp;
    this.anchorValues[slot] = value === undefined ? Number.NaN : value;
    return value;
  }

  private signalTruth(account: AccountState, t: number, signal: CompiledSignal): Truth {
    if (this.memoAccount !== account || this.memoTime !== t || this.memoVersion !== account.version) {
      this.memoAccount = account;
      this.memoTime = t;
      this.memoVersion = account.version;
      this.memoCurrent++;
    }
    const slot = signal.id - this.firstSignalId;
    if (this.memoStamp[slot] === this.memoCurrent) return this.memoTruth[slot] as Truth;
    signal.evaluate(account, t, this.outcome);
    this.memoStamp[slot] = this.memoCurrent;
    this.memoTruth[slot] = this.outcome.truth;
    return this.outcome.truth;
  }

  private compileCondition(condition: Condition, path: string, positive: boolean): CompiledCondition {
    switch (condition.kind) {
      case 'signal': {
        const signal = this.byName.get(condition.name);
        if (signal === undefined)
          throw new Error(`definition ${this.id}: unknown signal "${condition.name}" at ${path}`);
        if (positive) this.positiveSignals.add(signal.name);
        return (account, t) => this.signalTruth(account, t, signal);
      }
      case 'trait': {
        const test = compilePredicate(condition.op, condition.value);
        const label = describePredicate(condition.trait, condition.op, condition.value);
        this.traitLeaves.push({
          path,
          trait: condition.trait,
          label,
          threshold: label.slice(condition.trait.length + 1),
          op: condition.op,
          operand: condition.value,
          test,
        });
        const precedence = this.precedence;
        const trait = condition.trait;
        return (account, t) => test(account.traits.valueAt(trait, t, precedence));
      }
      case 'not': {
        const inner = this.compileCondition(condition.of, `${path}.not`, !positive);
        return (account, t) => {
          const v = inner(account, t);
          return v === 'pending' ? 'pending' : !v;
        };
      }
      case 'all':
      case 'any': {
        const parts = condition.of.map((c, i) => ({
          cost: this.conditionCost(c),
          run: this.compileCondition(c, `${path}.${condition.kind}[${i}]`, positive),
        }));
        // Cheap clauses first: with three-valued and/or the result does not depend on the order.
        parts.sort((a, b) => a.cost - b.cost);
        const runs = parts.map((p) => p.run);
        const decisive = condition.kind === 'all' ? false : true;
        return (account, t) => {
          let pending = false;
          for (const run of runs) {
            const v = run(account, t);
            if (v === decisive) return decisive;
            if (v === 'pending') pending = true;
          }
          return pending ? 'pending' : !decisive;
        };
      }
    }
  }

  private conditionCost(condition: Condition): number {
    switch (condition.kind) {
      case 'trait':
        return 0;
      case 'signal':
        return this.byName.get(condition.name)?.cost ?? 1;
      case 'not':
        return this.conditionCost(condition.of);
      default:
        return condition.of.reduce((sum, c) => sum + this.conditionCost(c), 0);
    }
  }

  /** Whether the whole definition holds for the account at time t: fit and qualify and not exclude. */
  holds(account: AccountState, t: number): Truth {
    const fit = this.fit === undefined ? true : this.fit(account, t);
    if (fit === false) return false;
    const qualify = this.qualify(account, t);
    if (qualify === false) return false;
    const excluded = this.exclude === undefined ? false : this.exclude(account, t);
    return andTruth([fit, qualify, excluded === 'pending' ? 'pending' : !excluded]);
  }

  /**
   * The next time after t at which the definition may start holding with time alone; with `anyChange`, the
   * next time any of its signals may change (to see it stop holding after an expiry).
   */
  nextDeadline(account: AccountState, t: number, anyChange = false): number {
    let next = Infinity;
    for (const signal of anyChange ? this.signals : this.timeSignals) {
      const at = signal.nextChange(account, t);
      if (at < next) next = at;
    }
    return next;
  }

  /** Whether a signal's first-held time survives history folding (its evidence and its anchor are kept). */
  private exactFirstHeld(signal: CompiledSignal): boolean {
    if (signal.firstHeldEntry !== undefined) return true;
    if (!signal.evidence.keepsAll) return false;
    const spec = signal.spec;
    const anchorName =
      spec.kind === 'returned'
        ? spec.after
        : 'window' in spec && spec.window.kind === 'after'
          ? spec.window.signal
          : undefined;
    const anchored = anchorName === undefined ? undefined : this.byName.get(anchorName);
    return anchored === undefined || this.exactFirstHeld(anchored);
  }

  /** Every clause with its value against its threshold at time t, and what is missing. */
  explain(account: AccountState, t: number): Explanation {
    const clauses: ClauseExplanation[] = [];
    const missing: string[] = [];
    for (const leaf of this.traitLeaves) {
      const value = account.traits.valueAt(leaf.trait, t, this.precedence);
      const holds = leaf.test(value);
      let progress: number | undefined;
      if (leaf.op === 'gte' || leaf.op === 'gt') {
        const v = toNumber(value);
        const target = toNumber(leaf.operand);
        progress = holds ? 1 : Number.isFinite(v) && target > 0 ? Math.max(0, Math.min(1, v / target)) : 0;
      } else progress = holds ? 1 : 0;
      clauses.push({
        path: leaf.path,
        label: leaf.label,
        kind: 'trait',
        holds,
        value: value === undefined ? null : value,
        threshold: leaf.threshold,
        eventIds: [],
        eventCount: 0,
        firstHeldAt: undefined,
        progress,
      });
      if (!holds && !leaf.path.startsWith('exclude')) missing.push(leaf.path);
      if (holds && leaf.path.startsWith('exclude')) missing.push(leaf.path);
    }
    const out = createOutcome();
    for (const signal of this.signals) {
      signal.evaluate(account, t, out);
      const log = account.logs[signal.evidence.index];
      const eventIds = log === undefined || out.count === 0 ? [] : log.idsBetween(out.from, out.to);
      // First-held times are exact only where the history behind them is kept (see folding in EntryLog).
      const first = this.exactFirstHeld(signal) ? this.anchor(account, signal.name) : undefined;
      let progress: number | undefined;
      if (out.truth === true) progress = 1;
      else if (
        'compare' in signal.spec &&
        (signal.spec.compare.op === 'gte' || signal.spec.compare.op === 'gt')
      ) {
        progress =
          signal.spec.compare.value > 0 ? Math.max(0, Math.min(1, out.value / signal.spec.compare.value)) : 0;
      } else if (signal.spec.kind === 'funnel') progress = out.value / signal.spec.reached;
      else progress = 0;
      clauses.push({
        path: `signals.${signal.name}`,
        label: signal.name,
        kind: signal.spec.kind,
        holds: out.truth,
        value: out.value,
        threshold: signal.threshold,
        eventIds,
        eventCount: out.count,
        firstHeldAt: first !== undefined && first <= t ? first : undefined,
        progress,
      });
      if (out.truth !== true && this.positiveSignals.has(signal.name)) missing.push(`signals.${signal.name}`);
    }
    const holds = this.holds(account, t);
    return { evaluatedAt: t, holds, clauses, missing: holds === true ? [] : missing };
  }
}
