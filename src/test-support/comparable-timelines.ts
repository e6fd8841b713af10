import type { AccountTimeline, AnalysisData } from '../core/analysis/account-timeline.js';

/** One account's timeline in a form that does not depend on how it was read. */
export interface ComparableTimeline extends Pick<
  AccountTimeline,
  'accountId' | 'signupAt' | 'convertedAt' | 'mqlAt' | 'owner' | 'mrr'
> {
  /** `time feature-key` per behaviour event, sorted (equal times may come in any order). */
  readonly events: readonly string[];
  /** Distinct users' first behaviour times, ascending. */
  readonly userFirst: readonly number[];
}

/**
 * Analysis timelines with feature ids replaced by their keys and user indexes by each user's first time:
 * readers number features and users differently (arrival order, or DuckDB's dictionaries) and order
 * events with equal times differently; discovery depends on none of that.
 */
export function comparableTimelines(data: AnalysisData): ComparableTimeline[] {
  return data.accounts.map((a) => {
    const events: string[] = [];
    const firstOfUser = new Map<number, number>();
    for (let i = 0; i < a.times.length; i++) {
      const t = a.times[i] as number;
      events.push(`${t} ${data.features[a.features[i] as number]}`);
      const user = a.users[i] as number;
      firstOfUser.set(user, Math.min(firstOfUser.get(user) ?? t, t));
    }
    return {
      accountId: a.accountId,
      signupAt: a.signupAt,
      convertedAt: a.convertedAt,
      mqlAt: a.mqlAt,
      owner: a.owner,
      mrr: a.mrr,
      events: events.sort(),
      userFirst: [...firstOfUser.values()].sort((x, y) => x - y),
    };
  });
}
