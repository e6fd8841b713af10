import type { TraitChange } from '../events/event.js';
import type { BillingLedger } from './billing-ledger.js';
import { normalizeDomain } from './domain.js';

/** A parsed row of `crm/companies.csv`; times in epoch ms. */
export interface CrmCompanyRow {
  readonly companyId: string;
  readonly name: string | undefined;
  readonly domain: string | undefined;
  readonly employees: number | undefined;
  readonly industry: string | undefined;
  readonly country: string | undefined;
  readonly ownerId: string | undefined;
  readonly lifecycleStage: string | undefined;
  readonly leadSource: string | undefined;
  readonly mqlAt: number | undefined;
  readonly createdAt: number | undefined;
  readonly updatedAt: number | undefined;
  /** 1-based line of the row in its file, for reports. */
  readonly line: number;
}

/** A parsed row of `crm/owners.csv`: a sales rep PQLs can be routed to. */
export interface CrmOwnerRow {
  readonly ownerId: string;
  readonly name: string | undefined;
  readonly email: string | undefined;
  readonly slackUserId: string | undefined;
  readonly territory: string | undefined;
  readonly weight: number | undefined;
  readonly away: boolean;
}

/** Effective time given to CRM rows with neither `updated_at` nor `created_at`: known since always. */
export const UNDATED_AT = 0;

/** The time from which a CRM row's values count: `updated_at`, else `created_at`, else undefined. */
export function crmEffectiveAt(row: CrmCompanyRow): number | undefined {
  return row.updatedAt ?? row.createdAt;
}

/**
 * The trait change a CRM row makes to the account joined to it (source 'crm', effective at
 * `updated_at`, else `created_at`, else UNDATED_AT). Empty CRM fields are left out, so they never hide
 * a product value behind the CRM's precedence.
 */
export function crmTraitChange(row: CrmCompanyRow, accountId: string): TraitChange {
  const traits: Record<string, unknown> = { crm_company_id: row.companyId };
  if (row.name !== undefined) traits['name'] = row.name;
  if (row.domain !== undefined) traits['domain'] = normalizeDomain(row.domain) ?? row.domain;
  if (row.employees !== undefined) traits['employees'] = row.employees;
  if (row.industry !== undefined) traits['industry'] = row.industry;
  if (row.country !== undefined) traits['country'] = row.country;
  if (row.ownerId !== undefined) traits['owner'] = row.ownerId;
  if (row.lifecycleStage !== undefined) traits['lifecycle_stage'] = row.lifecycleStage;
  if (row.leadSource !== undefined) traits['lead_source'] = row.leadSource;
  if (row.mqlAt !== undefined) traits['mql_at'] = new Date(row.mqlAt).toISOString();
  const effectiveAt = crmEffectiveAt(row) ?? UNDATED_AT;
  return {
    kind: 'traits',
    accountId,
    source: 'crm',
    effectiveAt,
    traits,
    changeId: `crm:${row.companyId}:${accountId}:${effectiveAt}`,
  };
}

/**
 * The billing trait changes (source 'billing': `paying`, `mrr`, `mrr_currency`, `plan`, `converted_at`)
 * of every account that owns Stripe customers, each at the time it took effect.
 */
export function billingTraitChanges(
  ledger: BillingLedger,
  accountOfCustomer: ReadonlyMap<string, string>,
): TraitChange[] {
  const customersOf = new Map<string, string[]>();
  for (const [customerId, accountId] of accountOfCustomer) {
    const list = customersOf.get(accountId);
    if (list === undefined) customersOf.set(accountId, [customerId]);
    else list.push(customerId);
  }
  const changes: TraitChange[] = [];
  for (const [accountId, customerIds] of customersOf) {
    for (const point of ledger.timeline(customerIds)) {
      changes.push({
        kind: 'traits',
        accountId,
        source: 'billing',
        effectiveAt: point.at,
        traits: { ...point.traits },
        changeId: `billing:${accountId}:${point.at}:${JSON.stringify(point.traits)}`,
      });
    }
  }
  return changes;
}
