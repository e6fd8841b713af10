import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stickyAssignments } from '../core/alerts/sticky-assignments.js';
import type { Definition } from '../core/definitions/definition.js';
import { DEFAULT_TERRITORIES } from '../core/routing/default-territories.js';
import { OwnerRouter, type Rep, type RoutingRules } from '../core/routing/owner-router.js';
import type { DetectorOptions } from '../runtime/detector.js';
import type { Store } from '../store/store.js';
import { createAlertPlanner } from './alert-planner.js';
import {
  channelPlan,
  createChannels,
  routeWarnings,
  type AlertingConfig,
  type RouteWarning,
} from './alerting-config.js';
import { DeliveryWorker } from './delivery-worker.js';

/** Reads the sales reps saved by `pql import` from `<dataDir>/crm/owners.json` (none when absent). */
export async function loadReps(dataDir: string): Promise<Rep[]> {
  const path = join(dataDir, 'crm', 'owners.json');
  if (!existsSync(path)) return [];
  const parsed = JSON.parse(await readFile(path, 'utf8')) as {
    owners: {
      ownerId: string;
      name?: string;
      email?: string;
      slackUserId?: string;
      territory?: string;
      weight?: number;
      away?: boolean;
    }[];
  };
  return parsed.owners.map(repOfOwner);
}

/** A rep for routing from a CRM owner row (name defaults to the id, weight to 1). */
export function repOfOwner(o: {
  readonly ownerId: string;
  readonly name?: string | undefined;
  readonly email?: string | undefined;
  readonly slackUserId?: string | undefined;
  readonly territory?: string | undefined;
  readonly weight?: number | undefined;
  readonly away?: boolean | undefined;
}): Rep {
  return {
    ownerId: o.ownerId,
    name: o.name ?? o.ownerId,
    email: o.email,
    slackUserId: o.slackUserId,
    territory: o.territory,
    weight: o.weight ?? 1,
    away: o.away === true,
  };
}

/** Alerting wired for one process: the detector hook that enqueues alerts, and the delivery worker. */
export interface Alerting {
  readonly channelNames: readonly string[];
  /**
   * Plans alerts for the detector over its store. Before the first PQL it routes, it restores the router's
   * sticky assignments from the alerts already in that store's outbox, so a restart keeps them.
   */
  readonly detectorOption: NonNullable<DetectorOptions['alerting']>;
  createWorker(store: Store): DeliveryWorker;
  /** Replaces the reps alerts are routed to (a live CRM owners upsert); the next PQL sees them. */
  updateReps(reps: readonly Rep[]): void;
  /** The definitions whose `route.channel` no configured channel serves (startup warnings). */
  routeWarnings(definitions: readonly Definition[]): readonly RouteWarning[];
}

/** The global routing rules when pql.yaml sets none: the default territories and no segments. */
export const DEFAULT_ROUTING_RULES: RoutingRules = { territories: DEFAULT_TERRITORIES, segments: [] };

/** Builds alerting from configuration, or undefined when no channel is configured. */
export function createAlerting(
  config: AlertingConfig,
  reps: readonly Rep[],
  rules: RoutingRules = DEFAULT_ROUTING_RULES,
): Alerting | undefined {
  const channels = createChannels(config);
  if (channels.size === 0) return undefined;
  const router = new OwnerRouter(reps, rules);
  // Shared by reference with every planner the detector builds, so an owners upsert reaches them all.
  const repsById = new Map(reps.map((r) => [r.ownerId, r]));
  const lastAlertAt = new Map<string, number>();
  // One restore per store, shared by every planner over it (a definition reload, each scale-out partition).
  const restoring = new WeakMap<Store, Promise<void>>();
  const restored = (store: Store): Promise<void> => {
    let restore = restoring.get(store);
    if (restore === undefined) {
      restore = restoreFromOutbox(router, lastAlertAt, store).catch((error: unknown) => {
        restoring.delete(store); // the next batch tries again
        throw error;
      });
      restoring.set(store, restore);
    }
    return restore;
  };
  return {
    channelNames: [...channels.keys()],
    detectorOption: ({ engine, definitions, store }) => {
      const plan = createAlertPlanner({
        store,
        engine,
        definitions,
        router,
        reps: repsById,
        channelsFor: channelPlan(channels),
        lastAlertAt,
        ...(config.accountCapMs === undefined ? {} : { accountCapMs: config.accountCapMs }),
        ...(config.dashboardUrl === undefined ? {} : { dashboardUrl: config.dashboardUrl }),
      });
      return async (transitions) => {
        if (transitions.some((t) => t.kind === 'qualified')) await restored(store);
        return plan(transitions);
      };
    },
    createWorker: (store) => new DeliveryWorker({ store, channels }),
    updateReps(next) {
      router.setReps(next);
      repsById.clear();
      for (const rep of next) repsById.set(rep.ownerId, rep);
    },
    routeWarnings: (definitions) => routeWarnings(definitions, channels),
  };
}

/** Alerts read back to restore sticky assignments; the newest first, so a very long outbox keeps the recent ones. */
const RESTORE_LIMIT = 1_000_000;

/**
 * What routing and the frequency cap remember, rebuilt from the outbox after a restart: the sticky
 * assignments, and when each account was last alerted (so a restart does not reopen its cap).
 */
async function restoreFromOutbox(
  router: OwnerRouter,
  lastAlertAt: Map<string, number>,
  store: Store,
): Promise<void> {
  const alerts = await store.listAlerts({ limit: RESTORE_LIMIT });
  router.restoreSticky(stickyAssignments(alerts.map((alert) => alert.payload)));
  for (const alert of alerts) {
    const accountId = (alert.payload as { accountId?: unknown } | null)?.accountId;
    if (typeof accountId !== 'string') continue;
    const at = (alert.payload as { detectedAt?: unknown }).detectedAt;
    const alertedAt = typeof at === 'number' ? at : alert.createdAt;
    if (alertedAt > (lastAlertAt.get(accountId) ?? Number.NEGATIVE_INFINITY))
      lastAlertAt.set(accountId, alertedAt);
  }
}
