import type { Detector } from '../runtime/detector.js';
import type { AlertRecord, PqlRecord } from '../store/store.js';
import { isRecord } from './message-checks.js';

/** Who a PQL belongs to: the rep its alert was routed to, else the account's CRM owner. */
export interface PqlOwner {
  readonly ownerId: string;
  /** The rep's name as the alert named it (undefined for a CRM owner: look it up among the reps). */
  readonly name: string | undefined;
  readonly source: 'routing' | 'crm';
}

/**
 * The owner of each PQL (by PQL id) and each PQL's alerts: routing's assignment recorded on its alert,
 * else the `owner` trait of the account (merged stored view, then the engine's), else none.
 */
export async function resolvePqlOwners(
  detector: Detector,
  pqls: readonly PqlRecord[],
  alerts: readonly AlertRecord[],
): Promise<{
  readonly owners: ReadonlyMap<string, PqlOwner>;
  readonly alertsByPql: ReadonlyMap<string, readonly AlertRecord[]>;
  readonly traits: ReadonlyMap<string, Readonly<Record<string, { readonly value: unknown }>>>;
}> {
  const alertsByPql = new Map<string, AlertRecord[]>();
  for (const a of alerts) {
    const list = alertsByPql.get(a.pqlId);
    if (list === undefined) alertsByPql.set(a.pqlId, [a]);
    else list.push(a);
  }
  const accountIds = [...new Set(pqls.map((p) => p.accountId))];
  const stored = await Promise.all(accountIds.map((id) => detector.store.getAccount(id)));
  const traits = new Map(
    accountIds.map((id, i) => [
      id,
      // The stored account view merges every source's traits; the engine keeps only what definitions read.
      { ...stored[i]?.traits, ...detector.engine.accountSummary(id)?.traits } as Record<
        string,
        { readonly value: unknown }
      >,
    ]),
  );
  const owners = new Map<string, PqlOwner>();
  for (const p of pqls) {
    const routed = (alertsByPql.get(p.id) ?? [])
      .map((a) => ownerOfPayload(a.payload))
      .find((o) => o !== undefined);
    if (routed !== undefined) {
      owners.set(p.id, { ...routed, source: 'routing' });
      continue;
    }
    const crmOwner = traits.get(p.accountId)?.['owner']?.value;
    if (typeof crmOwner === 'string' && crmOwner !== '')
      owners.set(p.id, { ownerId: crmOwner, name: undefined, source: 'crm' });
  }
  return { owners, alertsByPql, traits };
}

function ownerOfPayload(payload: unknown): { ownerId: string; name: string | undefined } | undefined {
  if (!isRecord(payload) || !isRecord(payload['owner'])) return undefined;
  const ownerId = payload['owner']['ownerId'];
  if (typeof ownerId !== 'string' || ownerId === '') return undefined;
  const name = payload['owner']['name'];
  return { ownerId, name: typeof name === 'string' && name !== '' ? name : undefined };
}
