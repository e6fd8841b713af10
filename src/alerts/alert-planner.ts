import { buildAlert } from '../core/alerts/alert.js';
import type { Definition, VersionedDefinition } from '../core/definitions/definition.js';
import type { Engine } from '../core/engine/create-engine.js';
import type { QualifiedTransition, Transition } from '../core/engine/transition.js';
import type { OwnerRouter, Rep, RouteOverrides } from '../core/routing/owner-router.js';
import type { NewAlert, Store } from '../store/store.js';

/** Where alerts of a definition go: channel names with their targets. */
export type ChannelPlan = (
  definition: Definition,
  rep: Rep | undefined,
) => readonly { channel: string; target: string }[];

/** What the planner needs to turn new PQLs into outbox alerts. */
export interface AlertPlannerOptions {
  readonly store: Store;
  readonly engine: Engine;
  readonly definitions: readonly VersionedDefinition[];
  readonly router: OwnerRouter;
  readonly reps: ReadonlyMap<string, Rep>;
  readonly channelsFor: ChannelPlan;
  readonly dashboardUrl?: string;
  readonly now?: () => number;
  /** At most one alert per account within this time, across definitions (frequency cap); default none. */
  readonly accountCapMs?: number;
  /** When each account was last alerted; shared across planners so a definition reload keeps the cap. */
  readonly lastAlertAt?: Map<string, number>;
}

/**
 * Plans outbox alerts for a batch of transitions: each new PQL is routed (CRM owner, the definition's or the
 * global rules, the definition's fallback or round-robin), built into one structured alert with the
 * account's context, and fanned out to the definition's channels. The detector commits them with the
 * transitions, in one transaction.
 */
export function createAlertPlanner(
  options: AlertPlannerOptions,
): (transitions: readonly Transition[]) => Promise<NewAlert[]> {
  const now = options.now ?? Date.now;
  const lastAlertAt = options.lastAlertAt ?? new Map<string, number>();
  return async (transitions) => {
    const alerts: NewAlert[] = [];
    for (let index = 0; index < transitions.length; index++) {
      const t = transitions[index] as Transition;
      if (t.kind !== 'qualified') continue;
      const versioned = options.definitions.find((d) => d.definition.id === t.definitionId);
      if (versioned === undefined) continue;
      const detectedAt = now();
      const previous = lastAlertAt.get(t.accountId);
      if (
        options.accountCapMs !== undefined &&
        previous !== undefined &&
        detectedAt - previous < options.accountCapMs
      )
        continue;
      lastAlertAt.set(t.accountId, detectedAt);
      const account = await options.store.getAccount(t.accountId);
      const traits: Record<string, unknown> = {};
      for (const [name, entry] of Object.entries(account?.traits ?? {})) traits[name] = entry.value;
      const summary = options.engine.accountSummary(t.accountId);
      for (const [name, entry] of Object.entries(summary?.traits ?? {})) traits[name] ??= entry.value;
      const definition = versioned.definition;
      const assignment = options.router.assign(t.accountId, traits, routeOverrides(definition));
      const rep = assignment.ownerId === undefined ? undefined : options.reps.get(assignment.ownerId);
      const alert = buildAlert({
        pqlId: '', // the store assigns the PQL id; the worker puts it on the alert it sends
        transition: t,
        definitionName: definition.name,
        nextStepTemplate: definition.nextStep,
        detectedAt,
        assignment,
        rep,
        traits,
        signupAt: summary?.signupAt,
        lastSeenAt: summary?.lastEventAt,
        people: peopleBehind(options.engine, t)
          .slice(0, 10)
          .map(({ userId, events }) => {
            const user = options.engine.userTraits(userId);
            const email = typeof user?.['email'] === 'string' ? user['email'] : undefined;
            const name = typeof user?.['name'] === 'string' ? user['name'] : undefined;
            return { userId, email, name, events };
          }),
        ...(options.dashboardUrl === undefined
          ? { dashboardUrl: undefined }
          : { dashboardUrl: options.dashboardUrl }),
      });
      for (const { channel, target } of options.channelsFor(definition, rep)) {
        alerts.push({ transitionIndex: index, channel, target, payload: alert });
      }
    }
    return alerts;
  };
}

/**
 * The users behind the clauses that held (the events named in the explanation), most active first; when
 * the engine keeps none of those events (a fit-only definition), the account's most active users.
 */
function peopleBehind(
  engine: Engine,
  t: QualifiedTransition,
): readonly { readonly userId: string; readonly events: number }[] {
  const eventIds = t.explanation.clauses.filter((c) => c.holds === true).flatMap((c) => c.eventIds);
  const behind = engine.usersBehind(t.accountId, eventIds);
  return behind.length > 0 ? behind : engine.accountUsers(t.accountId);
}

/** What a definition's `route` changes for the router: its own rules and its fallback. */
function routeOverrides(definition: Definition): RouteOverrides {
  const route = definition.route;
  const fallback = route?.fallback;
  return {
    territories: route?.territories,
    segments: route?.segments,
    pool: fallback !== undefined && 'roundRobin' in fallback ? fallback.roundRobin : undefined,
    fallbackOwner: fallback !== undefined && 'owner' in fallback ? fallback.owner : undefined,
  };
}
