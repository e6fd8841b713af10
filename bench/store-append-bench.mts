// SqliteStore.appendEvents throughput: N events (default 1M) in 1,000-event batches with 1% redeliveries,
// then one time-order read of the whole log. Run: npx tsx bench/store-append-bench.mts (SYNC=FULL, N=..., DB=...).
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import type { NewEvent } from '../src/store/store.js';

const N = Number(process.env.N ?? 1_000_000);
const sync = (process.env.SYNC ?? 'NORMAL') as 'FULL' | 'NORMAL';
const path = process.env.DB ?? '.pql/bench/store-append-bench.db';
for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
mkdirSync(dirname(path), { recursive: true });
const store = SqliteStore.open(path, { synchronous: sync });
const pad = 'x'.repeat(250);
let cpu = 0;
let ts = 1_700_000_000_000,
  elapsed = 0,
  windowMs = 0,
  inserted = 0,
  rejected = 0;
let prev: NewEvent[] = [];
const marks: number[] = [];
for (let b = 0; b < N / 1000; b++) {
  const rows: NewEvent[] = [];
  for (let i = 0; i < 1000; i++) {
    ts += Math.floor(Math.random() * 20);
    const messageId = randomUUID();
    rows.push({
      messageId,
      type: 'track',
      timestamp: ts,
      receivedAt: ts,
      userId: `user-${i % 997}`,
      anonymousId: undefined,
      accountId: `acct-${i % 101}`,
      body: `{"messageId":"${messageId}","type":"track","event":"API Call Made","properties":{"pad":"${pad}"}}`,
    });
  }
  for (let i = 0; i < 10 && prev.length > 0; i++) rows[i * 100] = prev[(i * 37) % prev.length]!;
  const t = performance.now();
  const c = process.cpuUsage();
  const r = await store.appendEvents(rows);
  const cu = process.cpuUsage(c);
  cpu += (cu.user + cu.system) / 1000;
  const dt = performance.now() - t;
  elapsed += dt;
  windowMs += dt;
  for (const x of r.inserted) {
    if (x) inserted++;
    else rejected++;
  }
  prev = rows;
  if ((b + 1) % 100 === 0) {
    marks.push(Math.round(100_000 / (windowMs / 1000)));
    windowMs = 0;
  }
}
const t = performance.now();
let read = 0;
for await (const batch of store.readEvents({ order: 'time' })) read += batch.length;
const readS = (performance.now() - t) / 1000;
await store.close();
console.log(
  `SqliteStore ${sync}: ${N} offered (${inserted} new, ${rejected} dup) in ${(elapsed / 1000).toFixed(1)}s = ${Math.round(N / (elapsed / 1000))} events/s wall, ${Math.round(N / (cpu / 1000))} events/s of CPU time; per 100k: ${marks.join(' ')}; time-order read ${read} in ${readS.toFixed(1)}s = ${Math.round(read / readS)}/s; file ${(statSync(path).size / 1e6).toFixed(0)} MB`,
);
for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
