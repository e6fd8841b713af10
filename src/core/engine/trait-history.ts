import { detachString } from '../detach-string.js';
import type { TraitSource } from '../events/event.js';

interface TraitEntry {
  readonly at: number;
  readonly value: unknown;
  readonly source: TraitSource;
}

const SOURCES: readonly string[] = ['product', 'crm', 'billing'];

/**
 * An account's trait values over time, per source, so a definition can ask "what was `employees` at t"
 * (point in time, no leakage). For an unqualified name the first source in `precedence` that has a value
 * at t wins; `crm.employees` reads one source only. Within a source, the latest effective time at or
 * before t wins; equal times keep the later arrival.
 */
export class TraitHistory {
  private readonly entries = new Map<string, TraitEntry[]>();

  /**
   * Records `traits` from `source` effective at `at`; returns true when something changed. With `wanted`,
   * only those trait names are kept (the engine keeps what definitions read; the store keeps everything).
   */
  apply(
    source: TraitSource,
    at: number,
    traits: Readonly<Record<string, unknown>>,
    wanted?: ReadonlySet<string>,
  ): boolean {
    let changed = false;
    for (const name in traits) {
      if (wanted !== undefined && !wanted.has(name)) continue;
      const raw = traits[name];
      const value = typeof raw === 'string' ? detachString(raw) : raw;
      let list = this.entries.get(name);
      if (list === undefined) {
        list = [];
        this.entries.set(name, list);
      }
      let i = list.length;
      while (i > 0 && (list[i - 1] as TraitEntry).at > at) i--;
      const before = list[i - 1];
      if (before !== undefined && before.at === at && before.source === source && before.value === value)
        continue;
      list.splice(i, 0, { at, value, source });
      if (list.length === 1) {
        this.entries.delete(name);
        this.entries.set(detachString(name), list);
      }
      changed = true;
    }
    return changed;
  }

  /** The value of `name` at time t (or the latest value when t is undefined). */
  valueAt(name: string, t: number | undefined, precedence: readonly TraitSource[]): unknown {
    const dot = name.indexOf('.');
    if (dot > 0 && SOURCES.includes(name.slice(0, dot))) {
      return this.sourceValueAt(name.slice(dot + 1), t, name.slice(0, dot) as TraitSource);
    }
    // One map lookup for every source: a trait's list holds all its sources' entries.
    const list = this.entries.get(name);
    if (list === undefined) return undefined;
    for (const source of precedence) {
      for (let i = list.length - 1; i >= 0; i--) {
        const entry = list[i] as TraitEntry;
        if (entry.source === source && (t === undefined || entry.at <= t)) {
          if (entry.value !== undefined) return entry.value;
          break;
        }
      }
    }
    return undefined;
  }

  private sourceValueAt(name: string, t: number | undefined, source: TraitSource): unknown {
    const list = this.entries.get(name);
    if (list === undefined) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const entry = list[i] as TraitEntry;
      if (entry.source === source && (t === undefined || entry.at <= t)) return entry.value;
    }
    return undefined;
  }

  /** Latest value and source of every trait (for the account view). */
  latest(
    precedence: readonly TraitSource[],
  ): Record<string, { value: unknown; source: TraitSource; at: number }> {
    const result: Record<string, { value: unknown; source: TraitSource; at: number }> = {};
    for (const [name, list] of this.entries) {
      for (const source of precedence) {
        for (let i = list.length - 1; i >= 0; i--) {
          const entry = list[i] as TraitEntry;
          if (entry.source === source) {
            result[name] = { value: entry.value, source, at: entry.at };
            break;
          }
        }
        if (result[name] !== undefined) break;
      }
    }
    return result;
  }
}
