import type { Comparison, SignalSpec, SignalWindow } from '../definitions/definition.js';
import type { AccountState } from './account-state.js';
import type { EntryLog } from './entry-log.js';
import type { Stream, StreamRegistry } from './stream-registry.js';
import type { Truth } from './transition.js';

const DAY_MS = 86_400_000;

/** The result of evaluating a signal at one time, written into a reused object (no allocation per event). */
export interface SignalOutcome {
  truth: Truth;
  value: number;
  /** Event-time range and count of the events behind the value. */
  from: number;
  to: number;
  count: number;
}

/** Creates an empty outcome to evaluate into. */
export function createOutcome(): SignalOutcome {
  return { truth: false, value: 0, from: 0, to: 0, count: 0 };
}

/** A signal compiled to closures over account state. */
export interface CompiledSignal {
  readonly id: number;
  readonly name: string;
  readonly spec: SignalSpec;
  /** Streams whose events can change this signal. */
  readonly streams: readonly Stream[];
  /** The stream whose events are "behind" the value (for event ids). */
  readonly evidence: Stream;
  readonly threshold: string;
  /** True when its window is anchored at sign-up (so a sign-up change can change it). */
  readonly usesSignup: boolean;
  /** Rough relative cost, to evaluate cheap clauses first. */
  readonly cost: number;
  /** k when "first held" is simply the k-th entry's time (a count >= k over all time); else undefined. */
  readonly firstHeldEntry: number | undefined;
  evaluate(account: AccountState, t: number, out: SignalOutcome): void;
  /** The earliest time the signal held, given the inputs so far; undefined if never. */
  firstHeld(account: AccountState): number | undefined;
  /** The next time after t at which the value may change with time alone (Infinity if none). */
  nextChange(account: AccountState, t: number): number;
}

/** Decides a comparison, 'pending' while an anchored window is still open and the outcome not settled. */
export function settle(compare: Comparison, value: number, open: boolean): Truth {
  const threshold = compare.value;
  switch (compare.op) {
    case 'gte':
      return value >= threshold ? true : open ? 'pending' : false;
    case 'gt':
      return value > threshold ? true : open ? 'pending' : false;
    case 'lte':
      return value > threshold ? false : open ? 'pending' : true;
    case 'lt':
      return value >= threshold ? false : open ? 'pending' : true;
    case 'eq':
      return value > threshold ? false : open ? 'pending' : value === threshold;
  }
}

const OP_TEXT: Record<Comparison['op'], string> = { gte: '>=', gt: '>', lte: '<=', lt: '<', eq: '=' };

function formatMs(ms: number): string {
  const units: [number, string][] = [
    [DAY_MS, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

function windowText(window: SignalWindow): string {
  switch (window.kind) {
    case 'all':
      return '';
    case 'rolling':
      return ` in the last ${formatMs(window.ms)}`;
    case 'signup':
      return ` within ${formatMs(window.ms)} of signup`;
    case 'after':
      return window.ms === undefined
        ? ` after ${window.signal}`
        : ` within ${formatMs(window.ms)} after ${window.signal}`;
  }
}

interface WindowRange {
  lo: number;
  hi: number;
  open: boolean;
  /** True when the window's anchor has not happened yet (the outcome is pending). */
  waiting: boolean;
}

type AnchorLookup = (account: AccountState, signal: string) => number | undefined;

/** Builds a compiled signal; `anchor` resolves the first-held time of another signal of the definition. */
export function compileSignal(
  id: number,
  name: string,
  spec: SignalSpec,
  registry: StreamRegistry,
  activity: Stream,
  anchor: AnchorLookup,
  anchorSignal: (signal: string) => CompiledSignal,
  scratch: { stamps: Int32Array; stamp: number },
): CompiledSignal {
  const range: WindowRange = { lo: 0, hi: 0, open: false, waiting: false };

  const windowRange = (
    account: AccountState,
    log: EntryLog | undefined,
    t: number,
    window: SignalWindow,
  ): WindowRange => {
    range.open = false;
    range.waiting = false;
    const size = log === undefined ? 0 : log.size;
    const upTo = (x: number): number => (log === undefined ? 0 : log.countAtOrBefore(x));
    switch (window.kind) {
      case 'all':
        range.lo = 0;
        range.hi = upTo(t);
        break;
      case 'rolling':
        range.lo = upTo(t - window.ms);
        range.hi = upTo(t);
        break;
      case 'signup': {
        const signup = account.signupAt();
        if (signup === undefined || signup > t) {
          range.lo = range.hi = 0;
          range.waiting = true;
          range.open = true;
          break;
        }
        const end = signup + window.ms;
        range.lo = log === undefined ? 0 : log.firstAtOrAfter(signup);
        range.hi = Math.min(upTo(t), log === undefined ? 0 : log.firstAtOrAfter(end));
        range.open = t < end;
        break;
      }
      case 'after': {
        const at = anchor(account, window.signal);
        if (at === undefined || at > t) {
          range.lo = range.hi = 0;
          range.waiting = true;
          range.open = true;
          break;
        }
        range.lo = upTo(at);
        range.hi = window.ms === undefined ? upTo(t) : Math.min(upTo(t), upTo(at + window.ms));
        range.open = window.ms === undefined || t < at + window.ms;
        break;
      }
    }
    if (range.hi < range.lo) range.hi = range.lo;
    if (range.hi > size) range.hi = size;
    return range;
  };

  const distinctIn = (log: EntryLog, lo: number, hi: number): number => {
    if (hi === log.size && hi > lo && log.keyCount < hi - lo) {
      // The window reaches the newest entry: a key is inside iff its latest entry is at or after entry lo.
      return lo === 0 && !log.folded ? log.keyCount : log.keysSeenSince(log.times[lo] as number);
    }
    const values = log.values as number[];
    if (scratch.stamps.length < registry.keyCount) {
      const grown = new Int32Array(Math.max(registry.keyCount * 2, 1024));
      grown.set(scratch.stamps);
      scratch.stamps = grown;
    }
    const stamp = ++scratch.stamp;
    const stamps = scratch.stamps;
    let distinct = 0;
    for (let i = lo; i < hi; i++) {
      const key = values[i] as number;
      if (stamps[key] !== stamp) {
        stamps[key] = stamp;
        distinct++;
      }
    }
    return distinct;
  };

  const windowNextChange = (
    account: AccountState,
    log: EntryLog | undefined,
    t: number,
    window: SignalWindow,
  ): number => {
    switch (window.kind) {
      case 'all':
        return Infinity;
      case 'rolling': {
        if (log === undefined) return Infinity;
        // The oldest entry inside the window leaves it at its time + window.
        const i = log.countAtOrBefore(t - window.ms);
        return i < log.countAtOrBefore(t) ? (log.times[i] as number) + window.ms : Infinity;
      }
      case 'signup': {
        const signup = account.signupAt();
        return signup !== undefined && signup + window.ms > t ? signup + window.ms : Infinity;
      }
      case 'after': {
        const at = anchor(account, window.signal);
        return at !== undefined && window.ms !== undefined && at + window.ms > t ? at + window.ms : Infinity;
      }
    }
  };

  /** Generic first-held search: the earliest candidate time at which the signal holds. */
  const scanFirstHeld = (
    self: CompiledSignal,
    account: AccountState,
    log: EntryLog | undefined,
  ): number | undefined => {
    const out = createOutcome();
    const signup = account.signupAt();
    if (signup !== undefined) {
      self.evaluate(account, signup, out);
      if (out.truth === true) return signup;
    }
    if (log === undefined) return undefined;
    for (let i = 0; i < log.size; i++) {
      const t = log.times[i] as number;
      if (i + 1 < log.size && (log.times[i + 1] as number) === t) continue;
      self.evaluate(account, t, out);
      if (out.truth === true) return t;
    }
    // Upper-bound comparisons can become true when a window closes.
    return undefined;
  };

  switch (spec.kind) {
    case 'count':
    case 'sum':
    case 'distinct':
    case 'distinct_users': {
      const measure =
        spec.kind === 'count'
          ? ({ kind: 'none' } as const)
          : spec.kind === 'sum'
            ? ({ kind: 'sum', property: spec.property } as const)
            : spec.kind === 'distinct'
              ? ({ kind: 'distinct', property: spec.property } as const)
              : ({ kind: 'user' } as const);
      const window = spec.window;
      const stream = registry.register([spec.selector], measure);
      // Counts and sums over all time need only a running total of old entries; distinct counts and
      // anchored windows need every entry; rolling windows need their width.
      registry.requireHistory(
        stream,
        window.kind === 'rolling'
          ? window.ms
          : window.kind === 'all' && (spec.kind === 'count' || spec.kind === 'sum')
            ? 0
            : Number.POSITIVE_INFINITY,
      );
      const compare = spec.compare;
      const anchorStreams = window.kind === 'after' ? anchorSignal(window.signal).streams : [];
      const what =
        spec.kind === 'count'
          ? 'events'
          : spec.kind === 'sum'
            ? `sum of properties.${spec.property.join('.')}`
            : spec.kind === 'distinct'
              ? `distinct properties.${spec.property.join('.')}`
              : 'distinct users';
      const simpleFirst =
        spec.kind === 'count' && window.kind === 'all' && (compare.op === 'gte' || compare.op === 'gt');
      const firstEntry =
        compare.op === 'gte' ? Math.max(1, Math.ceil(compare.value)) : Math.floor(compare.value) + 1;
      if (simpleFirst) registry.requireHead(stream, firstEntry);
      const signal: CompiledSignal = {
        id,
        name,
        spec,
        streams: [stream, ...anchorStreams],
        evidence: stream,
        threshold: `${what} ${OP_TEXT[compare.op]} ${compare.value}${windowText(window)}`,
        usesSignup: window.kind === 'signup',
        cost: spec.kind === 'count' || spec.kind === 'sum' ? 1 : 3,
        firstHeldEntry: simpleFirst ? firstEntry : undefined,
        evaluate(account, t, out) {
          const log = account.logs[stream.index];
          const r = windowRange(account, log, t, window);
          let value = 0;
          let count = r.hi - r.lo;
          if (log !== undefined && r.hi > r.lo) {
            if (spec.kind === 'count') value = r.hi - r.lo;
            else if (spec.kind === 'sum') value = log.sumRange(r.lo, r.hi);
            else value = distinctIn(log, r.lo, r.hi);
          }
          if (log !== undefined && window.kind === 'all' && log.folded) {
            count += log.droppedCount;
            value += spec.kind === 'count' ? log.droppedCount : log.droppedSum;
          }
          out.value = value;
          out.count = count;
          // Over all time, every kept id up to t is behind the value (the first entries may be folded away).
          out.from =
            log !== undefined && r.hi > r.lo
              ? window.kind === 'all'
                ? -Infinity
                : (log.times[r.lo] as number)
              : 0;
          out.to = log !== undefined && r.hi > r.lo ? (log.times[r.hi - 1] as number) : 0;
          out.truth = r.waiting ? 'pending' : settle(compare, value, r.open);
        },
        firstHeld(account) {
          const log = account.logs[stream.index];
          if (simpleFirst) {
            const k = firstEntry;
            return log !== undefined && log.size >= k ? (log.times[k - 1] as number) : undefined;
          }
          return scanFirstHeld(signal, account, log);
        },
        nextChange(account, t) {
          return windowNextChange(account, account.logs[stream.index], t, window);
        },
      };
      return signal;
    }
    case 'returned': {
      const after = anchorSignal(spec.after);
      registry.requireHistory(activity, Number.POSITIVE_INFINITY);
      const within = spec.withinMs;
      const signal: CompiledSignal = {
        id,
        name,
        spec,
        streams: [activity, ...after.streams],
        evidence: activity,
        threshold: `active on a later day within ${formatMs(within)} after ${spec.after}`,
        usesSignup: after.usesSignup,
        cost: 2,
        firstHeldEntry: undefined,
        evaluate(account, t, out) {
          out.value = 0;
          out.count = 0;
          out.from = out.to = 0;
          const at = anchor(account, spec.after);
          if (at === undefined || at > t) {
            out.truth = 'pending';
            return;
          }
          const deadline = at + within;
          const log = account.logs[activity.index];
          const nextDay = Math.floor(at / DAY_MS) * DAY_MS + DAY_MS;
          const i = log === undefined ? 0 : log.firstAtOrAfter(nextDay);
          const returnAt = log !== undefined && i < log.size ? (log.times[i] as number) : Infinity;
          if (returnAt <= deadline && returnAt <= t) {
            out.truth = true;
            out.value = Math.round(((returnAt - at) / DAY_MS) * 10) / 10;
            out.count = 1;
            out.from = out.to = returnAt;
            return;
          }
          out.truth = t >= deadline ? false : 'pending';
        },
        firstHeld(account) {
          const at = anchor(account, spec.after);
          if (at === undefined) return undefined;
          const log = account.logs[activity.index];
          const nextDay = Math.floor(at / DAY_MS) * DAY_MS + DAY_MS;
          const i = log === undefined ? 0 : log.firstAtOrAfter(nextDay);
          const returnAt = log !== undefined && i < log.size ? (log.times[i] as number) : Infinity;
          return returnAt <= at + within ? returnAt : undefined;
        },
        nextChange(account, t) {
          const at = anchor(account, spec.after);
          return at !== undefined && at + within > t ? at + within : Infinity;
        },
      };
      return signal;
    }
    case 'funnel': {
      const stream = registry.register(spec.steps, { kind: 'funnel', steps: spec.steps });
      registry.requireHistory(stream, Number.POSITIVE_INFINITY);
      const steps = spec.steps.length;
      const reachedNeeded = spec.reached;
      const window = spec.window;
      const progress = { reached: 0, completedAt: Infinity, first: 0, last: 0 };
      /** Greedy earliest matching of steps in strict time order over entries [lo, hi) with times <= limit. */
      const walk = (log: EntryLog, lo: number, hi: number, limit: number): void => {
        const masks = log.values as number[];
        let step = 0;
        let previous = -Infinity;
        let first = 0;
        for (let i = lo; i < hi && step < steps; i++) {
          const time = log.times[i] as number;
          if (time > limit) break;
          if (time > previous && ((masks[i] as number) & (1 << step)) !== 0) {
            if (step === 0) first = time;
            step++;
            previous = time;
            if (step === reachedNeeded && time < progress.completedAt) progress.completedAt = time;
          }
        }
        if (step > progress.reached || (step === progress.reached && step > 0 && previous < progress.last)) {
          progress.reached = step;
          progress.first = first;
          progress.last = previous;
        }
      };
      const measure = (account: AccountState, t: number): boolean => {
        progress.reached = 0;
        progress.completedAt = Infinity;
        progress.first = progress.last = 0;
        const log = account.logs[stream.index];
        if (log === undefined) return window.kind === 'signup' && isOpenSignup(account, t);
        const hi = log.countAtOrBefore(t);
        if (window.kind === 'all') {
          walk(log, 0, hi, t);
          return false;
        }
        if (window.kind === 'signup') {
          const signup = account.signupAt();
          if (signup === undefined) return true;
          walk(log, log.firstAtOrAfter(signup), hi, Math.min(t, signup + window.ms - 1));
          return t < signup + window.ms;
        }
        const masks = log.values as number[];
        for (let i = 0; i < hi && progress.reached < steps; i++) {
          if (((masks[i] as number) & 1) === 0) continue;
          const start = log.times[i] as number;
          walk(log, i, hi, Math.min(t, start + window.ms));
        }
        return false;
      };
      const isOpenSignup = (account: AccountState, t: number): boolean => {
        const signup = account.signupAt();
        return signup === undefined || (window.kind === 'signup' && t < signup + window.ms);
      };
      const windowLabel =
        window.kind === 'all'
          ? ''
          : window.kind === 'signup'
            ? ` within ${formatMs(window.ms)} of signup`
            : ` within ${formatMs(window.ms)} of the first step`;
      const signal: CompiledSignal = {
        id,
        name,
        spec,
        streams: [stream],
        evidence: stream,
        threshold: `funnel steps reached >= ${reachedNeeded} of ${steps}${windowLabel}`,
        usesSignup: window.kind === 'signup',
        cost: 4,
        firstHeldEntry: undefined,
        evaluate(account, t, out) {
          const open = measure(account, t);
          out.value = progress.reached;
          out.count = progress.reached;
          out.from = progress.first;
          out.to = progress.last;
          out.truth = progress.reached >= reachedNeeded ? true : open ? 'pending' : false;
        },
        firstHeld(account) {
          measure(account, Infinity);
          return Number.isFinite(progress.completedAt) ? progress.completedAt : undefined;
        },
        nextChange(account, t) {
          if (window.kind !== 'signup') return Infinity;
          const signup = account.signupAt();
          return signup !== undefined && signup + window.ms > t ? signup + window.ms : Infinity;
        },
      };
      return signal;
    }
  }
}
