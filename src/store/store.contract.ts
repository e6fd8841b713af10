import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Explanation, QualifiedTransition, Transition } from '../core/engine/transition.js';
import type { NewEvent, Store, StoredEvent } from './store.js';

/** Hooks for storage that outlives one store object (a file, a database server). */
export interface StoreContractHooks {
  /** Closes `store` and opens the same storage again; omit it for storage that cannot be reopened (':memory:'). */
  readonly reopen?: (store: Store) => Promise<Store>;
}

const DEF = 'devtool-activated';
const T0 = Date.UTC(2025, 0, 1);
const MINUTE = 60_000;
const DAY = 86_400_000;

/** Builds an event with `messageId`, at `timestamp`, with every identity field set. */
function event(messageId: string, timestamp: number, overrides: Partial<NewEvent> = {}): NewEvent {
  return {
    messageId,
    type: 'track',
    timestamp,
    receivedAt: timestamp + 5,
    userId: 'user-1',
    anonymousId: 'anon-1',
    accountId: 'acct-1',
    body: JSON.stringify({
      messageId,
      type: 'track',
      event: 'API Call Made',
      timestamp: new Date(timestamp).toISOString(),
    }),
    ...overrides,
  };
}

function explanation(evaluatedAt: number, value = 3): Explanation {
  return {
    evaluatedAt,
    holds: true,
    clauses: [
      {
        path: 'signals.first_call',
        label: 'first_call',
        kind: 'count',
        holds: true,
        value,
        threshold: '>= 1',
        eventIds: ['m-1', 'm-2'],
        eventCount: value,
        firstHeldAt: evaluatedAt - MINUTE,
        progress: 1,
      },
    ],
    missing: [],
  };
}

function qualified(accountId: string, qualifiedAt: number): QualifiedTransition {
  return {
    kind: 'qualified',
    accountId,
    definitionId: DEF,
    definitionVersion: 1,
    qualifiedAt,
    triggerEventId: 'm-9',
    explanation: explanation(qualifiedAt),
  };
}

function corrected(accountId: string, previousQualifiedAt: number, qualifiedAt: number): Transition {
  return {
    kind: 'corrected',
    accountId,
    definitionId: DEF,
    definitionVersion: 1,
    previousQualifiedAt,
    qualifiedAt,
    explanation: explanation(qualifiedAt, 4),
  };
}

function expired(accountId: string, qualifiedAt: number, expiredAt: number): Transition {
  return { kind: 'expired', accountId, definitionId: DEF, definitionVersion: 1, qualifiedAt, expiredAt };
}

async function readAll(
  store: Store,
  options?: Parameters<Store['readEvents']>[0],
): Promise<{ events: StoredEvent[]; batchSizes: number[] }> {
  const events: StoredEvent[] = [];
  const batchSizes: number[] = [];
  for await (const batch of store.readEvents(options)) {
    batchSizes.push(batch.length);
    events.push(...batch);
  }
  return { events, batchSizes };
}

/**
 * The store port's contract as a vitest suite: every implementation runs it with a factory that opens a
 * fresh, empty store per call; `cleanup` runs once after the suite.
 */
export function describeStoreContract(
  name: string,
  openStore: () => Promise<Store>,
  cleanup?: () => Promise<void>,
  hooks: StoreContractHooks = {},
): void {
  describe(`Store contract: ${name}`, () => {
    const openStores = new Set<Store>();

    async function open(): Promise<Store> {
      const store = await openStore();
      openStores.add(store);
      return store;
    }

    afterEach(async () => {
      for (const store of openStores) await store.close();
      openStores.clear();
    });

    afterAll(async () => {
      await cleanup?.();
    });

    const reopen = hooks.reopen;
    const itReopens = reopen === undefined ? it.skip : it;
    async function reopened(store: Store): Promise<Store> {
      openStores.delete(store);
      const next = await reopen!(store);
      openStores.add(next);
      return next;
    }

    describe('appendEvents', () => {
      it('stores new events and reports each one inserted', async () => {
        const store = await open();
        const result = await store.appendEvents([event('m-1', T0), event('m-2', T0 + 1)]);
        expect(result.inserted).toEqual([true, true]);
        expect(await store.countEvents()).toBe(2);
      });

      it('accepts an empty batch', async () => {
        const store = await open();
        expect((await store.appendEvents([])).inserted).toEqual([]);
        expect(await store.countEvents()).toBe(0);
      });

      it('round-trips every field, keeping absent ids undefined', async () => {
        const store = await open();
        const full = event('m-1', T0, { type: 'group', body: '{"a":"é\\u0000✓"}' });
        const bare = event('m-2', T0 + 1, { userId: undefined, anonymousId: 'anon-2', accountId: undefined });
        await store.appendEvents([full, bare]);
        const { events } = await readAll(store, { order: 'arrival' });
        expect(events.map(({ seq: _seq, ...rest }) => rest)).toEqual([full, bare]);
      });

      it('stores a messageId repeated within one batch once, keeping the first', async () => {
        const store = await open();
        const result = await store.appendEvents([
          event('m-1', T0, { body: '"first"' }),
          event('m-2', T0 + 1),
          event('m-1', T0 + 2, { body: '"second"' }),
        ]);
        expect(result.inserted).toEqual([true, true, false]);
        expect(await store.countEvents()).toBe(2);
        const { events } = await readAll(store, { order: 'arrival' });
        expect(events.map((e) => [e.messageId, e.body])).toEqual([
          ['m-1', '"first"'],
          ['m-2', event('m-2', T0 + 1).body],
        ]);
      });

      it('reports messageIds stored by an earlier batch as not inserted and does not store them again', async () => {
        const store = await open();
        await store.appendEvents([event('m-1', T0), event('m-2', T0 + 1)]);
        const result = await store.appendEvents([
          event('m-2', T0 + 9),
          event('m-3', T0 + 2),
          event('m-1', T0),
        ]);
        expect(result.inserted).toEqual([false, true, false]);
        expect(await store.countEvents()).toBe(3);
      });

      it('treats messageIds as exact, case-sensitive strings', async () => {
        const store = await open();
        const result = await store.appendEvents([
          event('abc', T0),
          event('ABC', T0),
          event('abc ', T0),
          event('', T0),
        ]);
        expect(result.inserted).toEqual([true, true, true, true]);
      });

      it('round-trips a 25,000-event batch and rejects all of it when appended again', async () => {
        const store = await open();
        const events = Array.from({ length: 25_000 }, (_, i) => event(`bulk-${i}`, T0 + (i % 500) * MINUTE));
        const first = await store.appendEvents(events);
        expect(first.inserted.filter((x) => x).length).toBe(25_000);
        const again = await store.appendEvents(events);
        expect(again.inserted.filter((x) => x).length).toBe(0);
        expect(await store.countEvents()).toBe(25_000);
        const { events: read, batchSizes } = await readAll(store, { order: 'arrival' });
        expect(batchSizes).toEqual([10_000, 10_000, 5_000]);
        expect(read.map((e) => e.messageId)).toEqual(events.map((e) => e.messageId));
      });

      itReopens('rejects messageIds stored before the store was reopened', async () => {
        const first = await open();
        await first.appendEvents([event('m-1', T0), event('m-2', T0 + 1)]);
        const store = await reopened(first);
        expect((await store.appendEvents([event('m-2', T0), event('m-3', T0)])).inserted).toEqual([
          false,
          true,
        ]);
        expect(await store.countEvents()).toBe(3);
      });
    });

    describe('readEvents', () => {
      it('yields nothing from an empty store', async () => {
        const store = await open();
        expect(await readAll(store)).toEqual({ events: [], batchSizes: [] });
      });

      it('gives increasing seq numbers in arrival order', async () => {
        const store = await open();
        await store.appendEvents([event('m-1', T0 + 3), event('m-2', T0 + 1)]);
        await store.appendEvents([event('m-3', T0 + 2)]);
        const { events } = await readAll(store, { order: 'arrival' });
        expect(events.map((e) => e.messageId)).toEqual(['m-1', 'm-2', 'm-3']);
        const seqs = events.map((e) => e.seq);
        expect(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!)).toBe(true);
      });

      it('orders by timestamp, then arrival for equal timestamps, by default', async () => {
        const store = await open();
        await store.appendEvents([event('b-late', T0 + 20), event('a-tie-1', T0 + 10), event('c-early', T0)]);
        await store.appendEvents([event('d-tie-2', T0 + 10), event('e-early', T0 + 1)]);
        const { events } = await readAll(store);
        expect(events.map((e) => e.messageId)).toEqual([
          'c-early',
          'e-early',
          'a-tie-1',
          'd-tie-2',
          'b-late',
        ]);
        expect((await readAll(store, { order: 'time' })).events).toEqual(events);
      });

      it('keeps time order and ties across batch boundaries', async () => {
        const store = await open();
        // Seven events at the same time straddle every page of size 3.
        const events = [
          ...Array.from({ length: 7 }, (_, i) => event(`tie-${i}`, T0 + 100)),
          event('early', T0),
          event('late', T0 + 200),
        ];
        await store.appendEvents(events);
        const { events: read, batchSizes } = await readAll(store, { order: 'time', batchSize: 3 });
        expect(batchSizes).toEqual([3, 3, 3]);
        expect(read.map((e) => e.messageId)).toEqual([
          'early',
          ...Array.from({ length: 7 }, (_, i) => `tie-${i}`),
          'late',
        ]);
      });

      it('returns only events after afterSeq, in either order', async () => {
        const store = await open();
        await store.appendEvents([
          event('m-1', T0 + 5),
          event('m-2', T0 + 4),
          event('m-3', T0 + 3),
          event('m-4', T0 + 2),
        ]);
        const all = (await readAll(store, { order: 'arrival' })).events;
        const afterSeq = all[1]!.seq;
        expect((await readAll(store, { order: 'arrival', afterSeq })).events.map((e) => e.messageId)).toEqual(
          ['m-3', 'm-4'],
        );
        expect((await readAll(store, { order: 'time', afterSeq })).events.map((e) => e.messageId)).toEqual([
          'm-4',
          'm-3',
        ]);
        expect(await readAll(store, { afterSeq: all[3]!.seq })).toEqual({ events: [], batchSizes: [] });
      });

      it('yields batches of batchSize, the last one partial', async () => {
        const store = await open();
        await store.appendEvents(Array.from({ length: 10 }, (_, i) => event(`m-${i}`, T0 + i)));
        expect((await readAll(store, { batchSize: 4 })).batchSizes).toEqual([4, 4, 2]);
        expect((await readAll(store, { order: 'arrival', batchSize: 5 })).batchSizes).toEqual([5, 5]);
        expect((await readAll(store, { batchSize: 1 })).batchSizes).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
      });

      it('yields every stored event exactly once while the caller appends between batches', async () => {
        const store = await open();
        await store.appendEvents(Array.from({ length: 6 }, (_, i) => event(`old-${i}`, T0 + i * MINUTE)));
        for (const order of ['time', 'arrival'] as const) {
          const seen: string[] = [];
          let round = 0;
          for await (const batch of store.readEvents({ order, batchSize: 2 })) {
            seen.push(...batch.map((e) => e.messageId));
            round++;
            await store.appendEvents([event(`new-${order}-${round}`, T0 + round)]);
          }
          expect(new Set(seen).size).toBe(seen.length);
          expect(seen.filter((id) => id.startsWith('old-'))).toEqual(
            Array.from({ length: 6 }, (_, i) => `old-${i}`),
          );
        }
      });
    });

    describe('commitTransitions', () => {
      it('stores a qualification as an open PQL with ordinal 1 and a qualification record', async () => {
        const store = await open();
        await store.commitTransitions({ transitions: [qualified('acct-1', T0)], detectedAt: T0 + 500 });
        const id = `${DEF}:acct-1:1`;
        const expected = {
          id,
          accountId: 'acct-1',
          definitionId: DEF,
          definitionVersion: 1,
          qualifiedAt: T0,
          detectedAt: T0 + 500,
          status: 'open',
          expiredAt: undefined,
          triggerEventId: 'm-9',
          explanation: explanation(T0),
          corrections: [],
        };
        expect(await store.getPql(id)).toEqual(expected);
        expect(await store.listPqls()).toEqual([expected]);
        expect(await store.loadQualifications()).toEqual([
          {
            accountId: 'acct-1',
            definitionId: DEF,
            definitionVersion: 1,
            qualifiedAt: T0,
            expiredAt: undefined,
          },
        ]);
      });

      it('keeps an undefined triggerEventId (a deadline qualified the account) undefined', async () => {
        const store = await open();
        await store.commitTransitions({
          transitions: [{ ...qualified('acct-1', T0), triggerEventId: undefined }],
          detectedAt: T0,
        });
        expect((await store.getPql(`${DEF}:acct-1:1`))?.triggerEventId).toBeUndefined();
      });

      it('does not create a second PQL for a repeated identical qualification, in one batch or later', async () => {
        const store = await open();
        await store.commitTransitions({
          transitions: [qualified('acct-1', T0), qualified('acct-1', T0)],
          detectedAt: T0 + 1,
        });
        await store.commitTransitions({ transitions: [qualified('acct-1', T0)], detectedAt: T0 + 2 });
        const pqls = await store.listPqls();
        expect(pqls.map((p) => [p.id, p.detectedAt])).toEqual([[`${DEF}:acct-1:1`, T0 + 1]]);
      });

      it('moves qualifiedAt earlier on a correction and keeps the previous values, oldest first', async () => {
        const store = await open();
        await store.commitTransitions({
          transitions: [qualified('acct-1', T0 + 60 * MINUTE)],
          detectedAt: T0 + 61 * MINUTE,
        });
        await store.commitTransitions({
          transitions: [corrected('acct-1', T0 + 60 * MINUTE, T0 + 30 * MINUTE)],
          detectedAt: T0 + 62 * MINUTE,
        });
        await store.commitTransitions({
          transitions: [corrected('acct-1', T0 + 30 * MINUTE, T0 + 10 * MINUTE)],
          detectedAt: T0 + 63 * MINUTE,
        });
        const pql = await store.getPql(`${DEF}:acct-1:1`);
        expect(pql).toMatchObject({
          qualifiedAt: T0 + 10 * MINUTE,
          detectedAt: T0 + 61 * MINUTE,
          status: 'open',
          corrections: [T0 + 60 * MINUTE, T0 + 30 * MINUTE],
          explanation: explanation(T0 + 10 * MINUTE, 4),
        });
        expect(await store.loadQualifications()).toEqual([
          {
            accountId: 'acct-1',
            definitionId: DEF,
            definitionVersion: 1,
            qualifiedAt: T0 + 10 * MINUTE,
            expiredAt: undefined,
          },
        ]);
        expect(await store.listPqls()).toHaveLength(1);
      });

      it('applies a repeated correction once', async () => {
        const store = await open();
        await store.commitTransitions({
          transitions: [qualified('acct-1', T0 + MINUTE)],
          detectedAt: T0 + MINUTE,
        });
        const correction = corrected('acct-1', T0 + MINUTE, T0);
        await store.commitTransitions({ transitions: [correction, correction], detectedAt: T0 + 2 * MINUTE });
        await store.commitTransitions({ transitions: [correction], detectedAt: T0 + 3 * MINUTE });
        expect((await store.getPql(`${DEF}:acct-1:1`))?.corrections).toEqual([T0 + MINUTE]);
      });

      it('expires a PQL, and a later qualification of the same account gets ordinal 2', async () => {
        const store = await open();
        await store.commitTransitions({ transitions: [qualified('acct-1', T0)], detectedAt: T0 + 1 });
        await store.commitTransitions({
          transitions: [expired('acct-1', T0, T0 + 30 * DAY)],
          detectedAt: T0 + 30 * DAY,
        });
        expect(await store.getPql(`${DEF}:acct-1:1`)).toMatchObject({
          status: 'expired',
          expiredAt: T0 + 30 * DAY,
        });
        expect(await store.loadQualifications()).toEqual([
          {
            accountId: 'acct-1',
            definitionId: DEF,
            definitionVersion: 1,
            qualifiedAt: T0,
            expiredAt: T0 + 30 * DAY,
          },
        ]);

        await store.commitTransitions({
          transitions: [qualified('acct-1', T0 + 40 * DAY)],
          detectedAt: T0 + 41 * DAY,
        });
        expect(await store.getPql(`${DEF}:acct-1:2`)).toMatchObject({
          status: 'open',
          qualifiedAt: T0 + 40 * DAY,
          detectedAt: T0 + 41 * DAY,
          expiredAt: undefined,
          corrections: [],
        });
        expect(await store.loadQualifications()).toEqual([
          {
            accountId: 'acct-1',
            definitionId: DEF,
            definitionVersion: 1,
            qualifiedAt: T0 + 40 * DAY,
            expiredAt: undefined,
          },
        ]);
        expect((await store.listPqls()).map((p) => [p.id, p.status])).toEqual([
          [`${DEF}:acct-1:2`, 'open'],
          [`${DEF}:acct-1:1`, 'expired'],
        ]);
      });

      it('does not reopen an expired PQL when its original qualification is replayed', async () => {
        const store = await open();
        await store.commitTransitions({
          transitions: [qualified('acct-1', T0), expired('acct-1', T0, T0 + 30 * DAY)],
          detectedAt: T0 + 1,
        });
        await store.commitTransitions({
          transitions: [qualified('acct-1', T0), expired('acct-1', T0, T0 + 30 * DAY)],
          detectedAt: T0 + 2,
        });
        expect((await store.listPqls()).map((p) => [p.id, p.status, p.expiredAt])).toEqual([
          [`${DEF}:acct-1:1`, 'expired', T0 + 30 * DAY],
        ]);
      });

      it('applies qualify, expire and qualify again within one batch in order', async () => {
        const store = await open();
        await store.commitTransitions({
          transitions: [
            qualified('acct-1', T0),
            expired('acct-1', T0, T0 + 30 * DAY),
            qualified('acct-1', T0 + 31 * DAY),
          ],
          detectedAt: T0 + 32 * DAY,
        });
        expect((await store.listPqls()).map((p) => [p.id, p.status, p.qualifiedAt])).toEqual([
          [`${DEF}:acct-1:2`, 'open', T0 + 31 * DAY],
          [`${DEF}:acct-1:1`, 'expired', T0],
        ]);
      });

      it('keeps qualifications of different accounts and definitions apart', async () => {
        const store = await open();
        const other: Transition = {
          ...qualified('acct-1', T0 + 5),
          definitionId: 'team-plan',
          definitionVersion: 2,
        };
        await store.commitTransitions({
          transitions: [qualified('acct-1', T0), qualified('acct-2', T0 + 1), other],
          detectedAt: T0 + 10,
        });
        expect((await store.listPqls()).map((p) => p.id)).toEqual([
          'team-plan:acct-1:1',
          `${DEF}:acct-2:1`,
          `${DEF}:acct-1:1`,
        ]);
        const records = [...(await store.loadQualifications())].sort((a, b) => a.qualifiedAt - b.qualifiedAt);
        expect(records.map((r) => [r.accountId, r.definitionId, r.definitionVersion])).toEqual([
          ['acct-1', DEF, 1],
          ['acct-2', DEF, 1],
          ['acct-1', 'team-plan', 2],
        ]);
      });

      it('starts with checkpoint 0, sets it with a batch, and keeps it when a batch carries none', async () => {
        const store = await open();
        expect(await store.loadCheckpoint()).toBe(0);
        await store.commitTransitions({ transitions: [], detectedAt: T0, checkpointSeq: 42 });
        expect(await store.loadCheckpoint()).toBe(42);
        await store.commitTransitions({ transitions: [qualified('acct-1', T0)], detectedAt: T0 });
        expect(await store.loadCheckpoint()).toBe(42);
        await store.commitTransitions({ transitions: [], detectedAt: T0, checkpointSeq: 1_000_000_007 });
        expect(await store.loadCheckpoint()).toBe(1_000_000_007);
      });

      it('commits nothing, not even the checkpoint, when one transition of the batch cannot be stored', async () => {
        const store = await open();
        await store.commitTransitions({ transitions: [], detectedAt: T0, checkpointSeq: 7 });
        // A BigInt has no JSON form, so the second transition's explanation cannot be written.
        const broken: Transition = {
          ...qualified('acct-2', T0),
          explanation: { ...explanation(T0), clauses: [{ ...explanation(T0).clauses[0]!, value: 10n }] },
        };
        await expect(
          store.commitTransitions({
            transitions: [qualified('acct-1', T0), broken],
            detectedAt: T0,
            checkpointSeq: 9,
          }),
        ).rejects.toThrow();
        expect(await store.listPqls()).toEqual([]);
        expect(await store.loadQualifications()).toEqual([]);
        expect(await store.loadCheckpoint()).toBe(7);
      });

      itReopens('keeps PQLs, qualifications and the checkpoint across a reopen', async () => {
        const first = await open();
        await first.commitTransitions({
          transitions: [
            qualified('acct-1', T0),
            qualified('acct-2', T0 + 1),
            expired('acct-2', T0 + 1, T0 + DAY),
          ],
          detectedAt: T0 + 2,
          checkpointSeq: 12,
        });
        const before = { pqls: await first.listPqls(), records: await first.loadQualifications() };
        const store = await reopened(first);
        expect(await store.loadCheckpoint()).toBe(12);
        expect(await store.listPqls()).toEqual(before.pqls);
        expect(await store.loadQualifications()).toEqual(before.records);
      });
    });

    describe('listPqls and getPql', () => {
      async function seeded(): Promise<Store> {
        const store = await open();
        await store.commitTransitions({
          transitions: [
            qualified('acct-1', T0 + 3 * DAY),
            qualified('acct-2', T0 + 1 * DAY),
            qualified('acct-3', T0 + 2 * DAY),
            { ...qualified('acct-1', T0 + 4 * DAY), definitionId: 'team-plan' },
            expired('acct-2', T0 + 1 * DAY, T0 + 5 * DAY),
          ],
          detectedAt: T0 + 6 * DAY,
        });
        return store;
      }

      it('lists newest qualifiedAt first', async () => {
        const store = await seeded();
        expect((await store.listPqls()).map((p) => p.id)).toEqual([
          'team-plan:acct-1:1',
          `${DEF}:acct-1:1`,
          `${DEF}:acct-3:1`,
          `${DEF}:acct-2:1`,
        ]);
      });

      it('filters by definition, account, status and since, and applies the limit last', async () => {
        const store = await seeded();
        const ids = async (filter: Parameters<Store['listPqls']>[0]) =>
          (await store.listPqls(filter)).map((p) => p.id);
        expect(await ids({ definitionId: DEF })).toEqual([
          `${DEF}:acct-1:1`,
          `${DEF}:acct-3:1`,
          `${DEF}:acct-2:1`,
        ]);
        expect(await ids({ accountId: 'acct-1' })).toEqual(['team-plan:acct-1:1', `${DEF}:acct-1:1`]);
        expect(await ids({ status: 'expired' })).toEqual([`${DEF}:acct-2:1`]);
        expect(await ids({ status: 'open', definitionId: DEF })).toEqual([
          `${DEF}:acct-1:1`,
          `${DEF}:acct-3:1`,
        ]);
        expect(await ids({ since: T0 + 2 * DAY })).toEqual([
          'team-plan:acct-1:1',
          `${DEF}:acct-1:1`,
          `${DEF}:acct-3:1`,
        ]);
        expect(await ids({ limit: 2 })).toEqual(['team-plan:acct-1:1', `${DEF}:acct-1:1`]);
        expect(await ids({ definitionId: DEF, limit: 1 })).toEqual([`${DEF}:acct-1:1`]);
        expect(await ids({ accountId: 'nobody' })).toEqual([]);
      });

      it('returns undefined for an unknown PQL id', async () => {
        const store = await seeded();
        expect(await store.getPql(`${DEF}:acct-1:2`)).toBeUndefined();
      });
    });

    describe('accounts', () => {
      it('returns undefined for an account it has never seen', async () => {
        const store = await open();
        expect(await store.getAccount('acct-1')).toBeUndefined();
        expect(await store.listAccounts()).toEqual([]);
      });

      it('keeps per trait and source the value with the latest effective time, whatever the call order', async () => {
        const store = await open();
        await store.updateAccountTraits([
          {
            accountId: 'acct-1',
            source: 'crm',
            effectiveAt: T0 + 10,
            traits: { employees: 50, industry: 'Software' },
          },
        ]);
        await store.updateAccountTraits([
          {
            accountId: 'acct-1',
            source: 'crm',
            effectiveAt: T0 + 5,
            traits: { employees: 40, country: 'DE' },
          },
        ]);
        expect(await store.getAccount('acct-1')).toEqual({
          accountId: 'acct-1',
          traits: {
            employees: { value: 50, source: 'crm', effectiveAt: T0 + 10 },
            industry: { value: 'Software', source: 'crm', effectiveAt: T0 + 10 },
            country: { value: 'DE', source: 'crm', effectiveAt: T0 + 5 },
          },
          bySource: {
            crm: {
              employees: { value: 50, effectiveAt: T0 + 10 },
              industry: { value: 'Software', effectiveAt: T0 + 10 },
              country: { value: 'DE', effectiveAt: T0 + 5 },
            },
          },
          firstSeenAt: undefined,
          lastSeenAt: undefined,
          eventCount: 0,
        });
      });

      it('lets the later call win when effective times are equal, within a source and across sources', async () => {
        const store = await open();
        await store.updateAccountTraits([
          { accountId: 'acct-1', source: 'product', effectiveAt: T0, traits: { plan: 'free' } },
          { accountId: 'acct-1', source: 'product', effectiveAt: T0, traits: { plan: 'team' } },
        ]);
        await store.updateAccountTraits([
          { accountId: 'acct-1', source: 'product', effectiveAt: T0, traits: { seats: 3 } },
        ]);
        expect((await store.getAccount('acct-1'))?.traits).toEqual({
          plan: { value: 'team', source: 'product', effectiveAt: T0 },
          seats: { value: 3, source: 'product', effectiveAt: T0 },
        });
        await store.updateAccountTraits([
          { accountId: 'acct-1', source: 'billing', effectiveAt: T0, traits: { plan: 'pro' } },
        ]);
        expect((await store.getAccount('acct-1'))?.traits.plan).toEqual({
          value: 'pro',
          source: 'billing',
          effectiveAt: T0,
        });
      });

      it('shows per trait the source value with the latest effective time across sources', async () => {
        const store = await open();
        await store.updateAccountTraits([
          { accountId: 'acct-1', source: 'crm', effectiveAt: T0 + 20, traits: { employees: 120 } },
          {
            accountId: 'acct-1',
            source: 'product',
            effectiveAt: T0 + 30,
            traits: { employees: 7, name: 'Acme' },
          },
          {
            accountId: 'acct-1',
            source: 'billing',
            effectiveAt: T0 + 10,
            traits: { employees: 99, paying: true },
          },
        ]);
        expect((await store.getAccount('acct-1'))?.traits).toEqual({
          employees: { value: 7, source: 'product', effectiveAt: T0 + 30 },
          name: { value: 'Acme', source: 'product', effectiveAt: T0 + 30 },
          paying: { value: true, source: 'billing', effectiveAt: T0 + 10 },
        });
      });

      it("keeps every source's own value beside the merged one", async () => {
        const store = await open();
        await store.updateAccountTraits([
          { accountId: 'acct-1', source: 'product', effectiveAt: T0, traits: { crm_company_id: 'c-9' } },
          { accountId: 'acct-1', source: 'crm', effectiveAt: T0 + 5, traits: { crm_company_id: 'c-1' } },
        ]);
        const account = await store.getAccount('acct-1');
        expect(account?.traits['crm_company_id']).toEqual({
          value: 'c-1',
          source: 'crm',
          effectiveAt: T0 + 5,
        });
        expect(account?.bySource).toEqual({
          product: { crm_company_id: { value: 'c-9', effectiveAt: T0 } },
          crm: { crm_company_id: { value: 'c-1', effectiveAt: T0 + 5 } },
        });
        expect((await store.listAccounts())[0]?.bySource).toEqual(account?.bySource);
      });

      it('round-trips JSON trait values of every kind', async () => {
        const store = await open();
        const traits = { n: 1.5, s: 'x', b: false, nil: null, list: [1, 'two'], nested: { a: { b: 2 } } };
        await store.updateAccountTraits([
          { accountId: 'acct-1', source: 'product', effectiveAt: T0, traits },
        ]);
        const stored = (await store.getAccount('acct-1'))?.traits ?? {};
        expect(Object.fromEntries(Object.entries(stored).map(([k, v]) => [k, v.value]))).toEqual(traits);
      });

      it('records first seen as the minimum, last seen as the maximum and sums event counts', async () => {
        const store = await open();
        await store.recordAccountActivity([
          { accountId: 'acct-1', at: T0 + 50, events: 3 },
          { accountId: 'acct-1', at: T0 + 10, events: 2 },
        ]);
        await store.recordAccountActivity([
          { accountId: 'acct-1', at: T0 + 30, events: 5 },
          { accountId: 'acct-2', at: T0 + 99, events: 1 },
        ]);
        expect(await store.getAccount('acct-1')).toEqual({
          accountId: 'acct-1',
          traits: {},
          bySource: {},
          firstSeenAt: T0 + 10,
          lastSeenAt: T0 + 50,
          eventCount: 10,
        });
        expect(await store.getAccount('acct-2')).toMatchObject({
          firstSeenAt: T0 + 99,
          lastSeenAt: T0 + 99,
          eventCount: 1,
        });
      });

      it('combines activity and traits in one account record', async () => {
        const store = await open();
        await store.updateAccountTraits([
          { accountId: 'acct-1', source: 'crm', effectiveAt: T0, traits: { owner: 'o-1' } },
        ]);
        await store.recordAccountActivity([{ accountId: 'acct-1', at: T0 + 1, events: 4 }]);
        expect(await store.getAccount('acct-1')).toEqual({
          accountId: 'acct-1',
          traits: { owner: { value: 'o-1', source: 'crm', effectiveAt: T0 } },
          bySource: { crm: { owner: { value: 'o-1', effectiveAt: T0 } } },
          firstSeenAt: T0 + 1,
          lastSeenAt: T0 + 1,
          eventCount: 4,
        });
      });

      it('lists accounts by accountId with limit and offset', async () => {
        const store = await open();
        await store.recordAccountActivity(
          ['acct-c', 'acct-a', 'acct-d'].map((accountId) => ({ accountId, at: T0, events: 1 })),
        );
        await store.updateAccountTraits([
          { accountId: 'acct-b', source: 'crm', effectiveAt: T0, traits: { tier: 1 } },
        ]);
        expect((await store.listAccounts()).map((a) => a.accountId)).toEqual([
          'acct-a',
          'acct-b',
          'acct-c',
          'acct-d',
        ]);
        const page = await store.listAccounts({ limit: 2, offset: 1 });
        expect(page.map((a) => [a.accountId, a.traits, a.eventCount])).toEqual([
          ['acct-b', { tier: { value: 1, source: 'crm', effectiveAt: T0 } }, 0],
          ['acct-c', {}, 1],
        ]);
        expect(await store.listAccounts({ offset: 4 })).toEqual([]);
      });
    });

    describe('definitions', () => {
      it('creates a version only when the content hash differs from the latest version', async () => {
        const store = await open();
        expect(await store.registerDefinition(DEF, 'hash-a', 'id: a', T0)).toBe(1);
        expect(await store.registerDefinition(DEF, 'hash-a', 'id: a', T0 + 1)).toBe(1);
        expect(await store.registerDefinition(DEF, 'hash-b', 'id: b', T0 + 2)).toBe(2);
        // Going back to earlier content is a change too: the latest version is what runs.
        expect(await store.registerDefinition(DEF, 'hash-a', 'id: a', T0 + 3)).toBe(3);
        expect(await store.registerDefinition('team-plan', 'hash-a', 'id: t', T0 + 4)).toBe(1);
        expect(await store.listDefinitionVersions(DEF)).toEqual([
          { definitionId: DEF, version: 1, contentHash: 'hash-a', source: 'id: a', createdAt: T0 },
          { definitionId: DEF, version: 2, contentHash: 'hash-b', source: 'id: b', createdAt: T0 + 2 },
          { definitionId: DEF, version: 3, contentHash: 'hash-a', source: 'id: a', createdAt: T0 + 3 },
        ]);
        expect((await store.listDefinitionVersions()).map((d) => [d.definitionId, d.version])).toEqual([
          [DEF, 1],
          [DEF, 2],
          [DEF, 3],
          ['team-plan', 1],
        ]);
        expect(await store.listDefinitionVersions('unknown')).toEqual([]);
      });
    });

    describe('alert outbox', () => {
      const payload = { hello: 'rep' };

      it('enqueues alerts only with the PQL they belong to, in the same commit, once', async () => {
        const store = await open();
        const batch = {
          transitions: [qualified('acc-1', T0), expired('acc-0', T0 - DAY, T0)],
          alerts: [
            { transitionIndex: 0, channel: 'webhook', target: '', payload },
            { transitionIndex: 0, channel: 'slack-api', target: 'U1', payload },
          ],
          detectedAt: T0 + 5,
        };
        await store.commitTransitions(batch);
        await store.commitTransitions(batch); // a replay creates no PQL, so no alert
        const alerts = await store.listAlerts();
        expect(alerts.map((a) => [a.id, a.pqlId, a.channel, a.target, a.status, a.attempts]).sort()).toEqual([
          [`${DEF}:acc-1:1/slack-api`, `${DEF}:acc-1:1`, 'slack-api', 'U1', 'pending', 0],
          [`${DEF}:acc-1:1/webhook`, `${DEF}:acc-1:1`, 'webhook', '', 'pending', 0],
        ]);
        expect(alerts[0]?.payload).toEqual(payload);
      });

      it('claims due alerts once per lease, counts attempts, and records every outcome', async () => {
        const store = await open();
        await store.commitTransitions({
          transitions: [qualified('acc-1', T0)],
          alerts: [{ transitionIndex: 0, channel: 'webhook', target: '', payload }],
          detectedAt: T0,
        });
        const id = `${DEF}:acc-1:1/webhook`;
        const [claimed] = await store.claimAlerts('w1', T0, 10, 30_000);
        expect(claimed).toMatchObject({ id, attempts: 1, possibleDuplicate: false });
        expect(await store.claimAlerts('w2', T0 + 1, 10, 30_000)).toEqual([]); // held by w1
        await store.completeAlert(id, 'w2', { kind: 'delivered', at: T0 }); // not w2's claim: ignored
        expect((await store.getAlert(id))?.status).toBe('pending');
        await store.completeAlert(id, 'w1', { kind: 'retry', at: T0 + 1000, error: 'HTTP 500' });
        expect(await store.claimAlerts('w1', T0 + 999, 10, 30_000)).toEqual([]); // not due yet
        const [again] = await store.claimAlerts('w1', T0 + 1000, 10, 30_000);
        expect(again).toMatchObject({ attempts: 2, lastError: 'HTTP 500' });
        await store.completeAlert(id, 'w1', { kind: 'deferred', at: T0 + 2000 });
        expect((await store.getAlert(id))?.attempts).toBe(1); // pacing is not an attempt
        await store.claimAlerts('w1', T0 + 2000, 10, 30_000);
        await store.completeAlert(id, 'w1', { kind: 'dead', error: 'HTTP 400 after 2 attempts' });
        expect(await store.getAlert(id)).toMatchObject({
          status: 'dead',
          lastError: 'HTTP 400 after 2 attempts',
        });
        expect((await store.listAlerts({ status: 'dead' })).map((a) => a.id)).toEqual([id]);
        expect(await store.retryAlert(id, T0 + 3000)).toBe(true);
        const [retried] = await store.claimAlerts('w1', T0 + 3000, 10, 30_000);
        await store.completeAlert(id, 'w1', { kind: 'delivered', at: T0 + 3001 });
        expect(await store.getAlert(id)).toMatchObject({
          status: 'delivered',
          deliveredAt: T0 + 3001,
          attempts: 3,
        });
        expect(retried?.id).toBe(id);
        expect(await store.retryAlert(id, T0)).toBe(false); // delivered alerts are not re-sent
      });

      it('a claim whose lease ran out (its worker died) is claimed again and flagged as a possible duplicate', async () => {
        const store = await open();
        await store.commitTransitions({
          transitions: [qualified('acc-1', T0)],
          alerts: [{ transitionIndex: 0, channel: 'slack-webhook', target: '', payload }],
          detectedAt: T0,
        });
        await store.claimAlerts('dead-worker', T0, 10, 1000);
        expect(await store.claimAlerts('w2', T0 + 999, 10, 1000)).toEqual([]);
        const [taken] = await store.claimAlerts('w2', T0 + 1001, 10, 1000);
        expect(taken).toMatchObject({ attempts: 2, possibleDuplicate: true });
      });
    });

    describe('dispositions', () => {
      it('appends dispositions in order, keeps superseded ones as history and filters by PQL and account', async () => {
        const store = await open();
        const base = { definitionId: 'def-a', recordedBy: undefined, recordedAt: T0 };
        const first = await store.recordDisposition({
          ...base,
          pqlId: 'pql-1',
          accountId: 'acc-1',
          disposition: 'contacted',
          reason: 'left a voicemail',
        });
        const second = await store.recordDisposition({
          ...base,
          pqlId: 'pql-2',
          accountId: 'acc-2',
          disposition: 'disqualified',
          reason: 'student project',
          recordedBy: 'owner-3',
        });
        const third = await store.recordDisposition({
          ...base,
          pqlId: 'pql-1',
          accountId: 'acc-1',
          disposition: 'won',
          reason: '',
          recordedAt: T0 + DAY,
        });
        expect(first.seq).toBeLessThan(second.seq);
        expect(second.seq).toBeLessThan(third.seq);
        expect(await store.listDispositions()).toEqual([first, second, third]);
        expect(await store.listDispositions({ pqlId: 'pql-1' })).toEqual([first, third]);
        expect(await store.listDispositions({ accountId: 'acc-2' })).toEqual([second]);
        expect(second.recordedBy).toBe('owner-3');
        expect(await store.listDispositions({ pqlId: 'pql-9' })).toEqual([]);
      });

      itReopens('keeps dispositions across a restart', async () => {
        const store = await open();
        const recorded = await store.recordDisposition({
          pqlId: 'pql-1',
          accountId: 'acc-1',
          definitionId: 'def-a',
          disposition: 'contacted',
          reason: 'demo booked',
          recordedBy: undefined,
          recordedAt: T0,
        });
        const next = await reopened(store);
        expect(await next.listDispositions()).toEqual([recorded]);
      });
    });

    describe('trait change log', () => {
      it('appends idempotently by changeId and reads back in effective-time order', async () => {
        const store = await open();
        const change = (changeId: string, effectiveAt: number, traits: Record<string, unknown>) => ({
          kind: 'traits' as const,
          changeId,
          accountId: 'acc-1',
          source: 'crm' as const,
          effectiveAt,
          traits,
        });
        expect(
          await store.appendTraitChanges([
            change('c2', T0 + DAY, { employees: 50 }),
            change('c1', T0, { employees: 40 }),
          ]),
        ).toEqual({
          inserted: [true, true],
        });
        expect(
          await store.appendTraitChanges([
            change('c1', T0, { employees: 40 }),
            change('c3', T0, { industry: 'SaaS' }),
          ]),
        ).toEqual({
          inserted: [false, true],
        });
        expect(await store.readTraitChanges()).toEqual([
          change('c1', T0, { employees: 40 }),
          change('c3', T0, { industry: 'SaaS' }),
          change('c2', T0 + DAY, { employees: 50 }),
        ]);
      });
    });
  });
}
