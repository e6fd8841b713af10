import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TraitChange } from '../../core/events/event.js';
import { resolveJoins, type AccountJoinKeys, type ResolvedJoins } from '../../core/sources/join-resolver.js';
import {
  billingTraitChanges,
  crmTraitChange,
  type CrmOwnerRow,
} from '../../core/sources/source-trait-changes.js';
import { readStripeEvents, type StripeEventsFile } from '../billing/read-stripe-events.js';
import { readCompaniesCsv, readOwnersCsv, type CrmCompaniesFile } from '../crm/read-crm-files.js';
import type { FileReport } from '../import-workspace.js';
import { readAccountJoinKeys } from './read-account-keys.js';

/** Paths of the CRM and billing files inside a workspace export directory (DESIGN.md). */
export const SOURCE_FILES = {
  companies: join('crm', 'companies.csv'),
  owners: join('crm', 'owners.csv'),
  stripeEvents: join('billing', 'stripe-events.ndjson'),
} as const;

/** Everything the CRM and billing files of an export give, joined to the accounts of its events. */
export interface WorkspaceSources {
  readonly companies: CrmCompaniesFile | undefined;
  readonly owners: { readonly owners: readonly CrmOwnerRow[]; readonly report: FileReport } | undefined;
  readonly billing: StripeEventsFile | undefined;
  readonly joins: ResolvedJoins;
  /** CRM and billing trait changes for joined accounts, in effective-time order. */
  readonly traitChanges: readonly TraitChange[];
}

/** Options of `loadWorkspaceSources`. */
export interface LoadWorkspaceSourcesOptions {
  /**
   * Scan events.ndjson for the accounts even when there is no CRM or billing file to join them to (the
   * join report then still counts them); default false, which saves a whole pass over the events.
   */
  readonly alwaysScanAccounts?: boolean;
  /**
   * The accounts' join keys, collected by a caller that already read every event (AccountKeyCollector):
   * no scan of events.ndjson then.
   */
  readonly accountKeys?: readonly AccountJoinKeys[];
}

/**
 * Reads the CRM and billing files of a workspace export (each optional), scans events.ndjson for the
 * accounts' join keys, resolves the joins and builds the trait changes the engine needs. Throws
 * SourceFileError for a file that cannot be read at all (a missing column).
 */
export async function loadWorkspaceSources(
  dir: string,
  warnings: string[],
  options: LoadWorkspaceSourcesOptions = {},
): Promise<WorkspaceSources> {
  const eventsPath = join(dir, 'events.ndjson');
  const companiesPath = join(dir, SOURCE_FILES.companies);
  const ownersPath = join(dir, SOURCE_FILES.owners);
  const billingPath = join(dir, SOURCE_FILES.stripeEvents);
  // The join keys matter only when there is something to join them to; the scan is a whole extra pass
  // over events.ndjson (about 7% of an import's time without CRM or billing files).
  const joinable =
    options.alwaysScanAccounts === true || existsSync(companiesPath) || existsSync(billingPath);
  const accounts =
    options.accountKeys ?? (joinable && existsSync(eventsPath) ? await readAccountJoinKeys(eventsPath) : []);
  const companies = existsSync(companiesPath) ? await readCompaniesCsv(companiesPath, warnings) : undefined;
  const owners = existsSync(ownersPath) ? await readOwnersCsv(ownersPath, warnings) : undefined;
  const billing = existsSync(billingPath) ? await readStripeEvents(billingPath) : undefined;
  if (billing !== undefined) {
    for (const [type, count] of Object.entries(billing.unhandled))
      warnings.push(
        `${billingPath}: ${count} event${count === 1 ? '' : 's'} of unhandled type ${type} acknowledged`,
      );
    if (billing.stale > 0)
      warnings.push(`${billingPath}: ${billing.stale} events arrived after a newer state of their object (used for history only)`); // prettier-ignore
  }
  const joins = resolveJoins(
    accounts,
    companies?.companies ?? [],
    (billing?.ledger.customers() ?? []).map((c) => ({
      customerId: c.customerId,
      accountId: c.accountId,
      email: c.email,
    })),
  );
  const traitChanges: TraitChange[] = [];
  if (companies !== undefined) {
    const rowById = new Map(companies.companies.map((row) => [row.companyId, row]));
    for (const [accountId, companyId] of joins.companyOfAccount) {
      const row = rowById.get(companyId);
      if (row !== undefined) traitChanges.push(crmTraitChange(row, accountId));
    }
  }
  if (billing !== undefined)
    traitChanges.push(...billingTraitChanges(billing.ledger, joins.accountOfCustomer));
  traitChanges.sort((a, b) => a.effectiveAt - b.effectiveAt);
  return { companies, owners, billing, joins, traitChanges };
}

/** Writes the CRM owners (sales reps) for routing as `<dataDir>/crm/owners.json`: `{ "owners": [...] }`. */
export async function saveOwners(dataDir: string, owners: readonly CrmOwnerRow[]): Promise<string> {
  const path = join(dataDir, 'crm', 'owners.json');
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify({ owners }, null, 2)}\n`);
  return path;
}
