import { join } from 'node:path';
import { loadDefinitionsFromPath } from '../config/definition-files.js';
import type { ProductEvent } from '../core/events/event.js';
import { generateDemoEvents } from '../demo/demo-world.js';
import { Detector } from '../runtime/detector.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { PqlRecord } from '../store/store.js';

/**
 * The earliest `count` messages, in global time order, of a demo world with enough accounts to produce
 * them (generateDemoEvents streams account by account; live traffic arrives in time order, and so ticks at
 * "latest event time minus the allowed lateness" never pass an event still to come).
 */
export function timeOrderedDemoMessages(count: number): unknown[] {
  const all: { readonly at: number; readonly message: unknown }[] = [];
  for (const message of generateDemoEvents({ seed: DEMO_SEED, accounts: demoAccountsFor(count) })) {
    all.push({ at: Date.parse((message as { timestamp: string }).timestamp), message });
  }
  all.sort((a, b) => a.at - b.at);
  if (all.length < count) throw new Error(`the demo world made ${all.length} events, ${count} wanted`);
  return all.slice(0, count).map((m) => m.message);
}

/** The demo world's seed for cluster runs. */
export const DEMO_SEED = 11;

/** Accounts of the demo world `timeOrderedDemoMessages(count)` draws from (about 150 events each). */
export function demoAccountsFor(count: number): number {
  return Math.ceil(count / 150) + 10;
}

/** Identity of a PQL with its qualification time: what a cluster and the reference must agree on. */
export function pqlKeys(pqls: readonly PqlRecord[]): string[] {
  return pqls.map((p) => `${p.id}@${new Date(p.qualifiedAt).toISOString()}`).sort();
}

/**
 * The reference a scale-out run is held to: one process, the embedded SQLite store (under `dir`) and the
 * Detector, the same events in the same order, ticking to the latest event time minus the allowed lateness
 * after each batch of 500 as the workers do.
 */
export async function singleProcessPqls(
  events: readonly ProductEvent[],
  dir: string,
  definitions: string,
  latenessMs: number,
): Promise<readonly PqlRecord[]> {
  const loaded = await loadDefinitionsFromPath(definitions);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const store = SqliteStore.open(join(dir, 'reference', 'pql.sqlite'));
  try {
    const detector = await Detector.open(store, loaded.definitions, { allowedLatenessMs: latenessMs });
    let maxTime = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < events.length; i += 500) {
      const batch = events.slice(i, i + 500);
      for (const event of batch) if (event.timestamp > maxTime) maxTime = event.timestamp;
      await detector.ingest(batch);
      await detector.tick(maxTime - latenessMs);
    }
    return await store.listPqls();
  } finally {
    await store.close();
  }
}
