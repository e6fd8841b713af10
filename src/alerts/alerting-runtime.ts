import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OwnerRouter, type Rep, type RoutingRules } from '../core/routing/owner-router.js';
import type { DetectorOptions } from '../runtime/detector.js';
import type { Store } from '../store/store.js';
import { createAlertPlanner } from './alert-planner.js';
import { channelPlan, createChannels, type AlertingConfig } from './alerting-config.js';
import { DeliveryWorker } from './delivery-worker.js';

/** Default territories for CRM owners' `territory` column (NA, EMEA, APAC); pql.yaml can replace them. */
export const DEFAULT_TERRITORIES: RoutingRules['territories'] = [
  { territory: 'NA', countries: ['US', 'CA', 'MX'] },
  {
    territory: 'EMEA',
    countries: [
      'GB',
      'IE',
      'DE',
      'FR',
      'NL',
      'BE',
      'ES',
      'IT',
      'PT',
      'PL',
      'SE',
      'NO',
      'DK',
      'FI',
      'CH',
      'AT',
      'NG',
      'ZA',
      'AE',
      'IL',
    ],
  },
  {
    territory: 'APAC',
    countries: ['AU', 'NZ', 'IN', 'SG', 'JP', 'KR', 'CN', 'HK', 'ID', 'PH', 'VN', 'TH', 'MY'],
  },
];

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
  readonly detectorOption: NonNullable<DetectorOptions['alerting']>;
  createWorker(store: Store): DeliveryWorker;
  /** Replaces the reps alerts are routed to (a live CRM owners upsert); the next PQL sees them. */
  updateReps(reps: readonly Rep[]): void;
}

/** Builds alerting from configuration, or undefined when no channel is configured. */
export function createAlerting(
  config: AlertingConfig,
  reps: readonly Rep[],
  rules: RoutingRules = { territories: DEFAULT_TERRITORIES, segments: [] },
): Alerting | undefined {
  const channels = createChannels(config);
  if (channels.size === 0) return undefined;
  const router = new OwnerRouter(reps, rules);
  // Shared by reference with every planner the detector builds, so an owners upsert reaches them all.
  const repsById = new Map(reps.map((r) => [r.ownerId, r]));
  const lastAlertAt = new Map<string, number>();
  return {
    channelNames: [...channels.keys()],
    detectorOption: ({ engine, definitions, store }) =>
      createAlertPlanner({
        store,
        engine,
        definitions,
        router,
        reps: repsById,
        channelsFor: channelPlan(channels),
        lastAlertAt,
        ...(config.accountCapMs === undefined ? {} : { accountCapMs: config.accountCapMs }),
        ...(config.dashboardUrl === undefined ? {} : { dashboardUrl: config.dashboardUrl }),
      }),
    createWorker: (store) => new DeliveryWorker({ store, channels }),
    updateReps(next) {
      router.setReps(next);
      repsById.clear();
      for (const rep of next) repsById.set(rep.ownerId, rep);
    },
  };
}
