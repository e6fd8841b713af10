import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TraitChange } from '../core/events/event.js';
import { BillingLedger, type LedgerResult } from '../core/sources/billing-ledger.js';
import { resolveJoins, type AccountJoinKeys, type ResolvedJoins } from '../core/sources/join-resolver.js';
import {
  billingTraitChanges,
  crmTraitChange,
  type CrmCompanyRow,
  type CrmOwnerRow,
} from '../core/sources/source-trait-changes.js';
import type { CrmOwnerUpsert } from './crm/read-crm-files.js';
import { readLines } from './read-lines.js';

/** Files under the data directory that hold what the CRM and Stripe sent, as received. */
export const LIVE_SOURCE_FILES = {
  companies: join('crm', 'companies.ndjson'),
  stripeEvents: join('billing', 'stripe-events.ndjson'),
  /** The sales reps routing reads (`pql import` writes it too): `{ "owners": [...] }`. */
  owners: join('crm', 'owners.json'),
} as const;

/** What became of the Stripe webhook deliveries a server took (by outcome), and the unhandled types seen. */
export interface StripeEventCounts {
  readonly applied: number;
  readonly duplicate: number;
  readonly unhandled: number;
  readonly invalid: number;
  readonly unhandledTypes: Readonly<Record<string, number>>;
}

/**
 * The CRM companies and Stripe events a running server has received (API upserts, webhooks, imports),
 * kept durably as NDJSON under the data directory and in memory as the latest company rows and a billing
 * ledger, so joins can be resolved and trait changes derived at any time. Each record is appended and
 * synced before it is applied: an acknowledged webhook is never lost.
 */
export class LiveSources {
  private readonly companies = new Map<string, CrmCompanyRow>();
  private readonly ledger = new BillingLedger();
  private readonly ownersById = new Map<string, CrmOwnerRow>();
  private readonly ownerListeners: ((owners: readonly CrmOwnerRow[]) => void)[] = [];
  private readonly stripeCounts = { applied: 0, duplicate: 0, unhandled: 0, invalid: 0 };
  private readonly unhandledTypes: Record<string, number> = {};

  private constructor(private readonly dataDir: string) {}

  /** Loads what earlier runs received (bad lines are skipped: they were validated when written). */
  static async open(dataDir: string): Promise<LiveSources> {
    const sources = new LiveSources(dataDir);
    const companiesPath = join(dataDir, LIVE_SOURCE_FILES.companies);
    if (existsSync(companiesPath)) {
      for await (const chunk of readLines(companiesPath)) {
        for (const line of chunk.lines) {
          const row = parseLine(line) as CrmCompanyRow | undefined;
          if (row !== undefined && typeof row.companyId === 'string') sources.keepCompany(row);
        }
      }
    }
    const stripePath = join(dataDir, LIVE_SOURCE_FILES.stripeEvents);
    if (existsSync(stripePath)) {
      for await (const chunk of readLines(stripePath)) {
        for (const line of chunk.lines) {
          const event = parseLine(line);
          if (event !== undefined) sources.ledger.apply(event);
        }
      }
    }
    const ownersPath = join(dataDir, LIVE_SOURCE_FILES.owners);
    if (existsSync(ownersPath)) {
      const parsed = parseLine(await readFile(ownersPath, 'utf8'));
      const owners = (parsed as { owners?: unknown } | undefined)?.owners;
      if (Array.isArray(owners))
        for (const owner of owners as CrmOwnerRow[])
          if (typeof owner.ownerId === 'string') sources.ownersById.set(owner.ownerId, owner);
    }
    return sources;
  }

  /** How many companies, Stripe customers and owners are known, and what the Stripe deliveries came to. */
  counts(): {
    readonly companies: number;
    readonly customers: number;
    readonly owners: number;
    readonly stripeEvents: StripeEventCounts;
  } {
    return {
      companies: this.companies.size,
      customers: this.ledger.customers().length,
      owners: this.ownersById.size,
      stripeEvents: { ...this.stripeCounts, unhandledTypes: { ...this.unhandledTypes } },
    };
  }

  /** The latest row of a CRM company, if known. */
  company(companyId: string): CrmCompanyRow | undefined {
    return this.companies.get(companyId);
  }

  /** The CRM owners (sales reps) known, as routing reads them. */
  owners(): readonly CrmOwnerRow[] {
    return [...this.ownersById.values()];
  }

  /** Calls `listener` with every owner after each owners upsert (alerting routes with them). */
  onOwnersChanged(listener: (owners: readonly CrmOwnerRow[]) => void): void {
    this.ownerListeners.push(listener);
  }

  /**
   * Upserts owners: given fields replace, absent ones keep what was known (HubSpot knows no Slack user id).
   * The whole list is written to `crm/owners.json` (synced, then renamed into place) before listeners hear of it.
   */
  async recordOwners(upserts: readonly CrmOwnerUpsert[]): Promise<readonly CrmOwnerRow[]> {
    if (upserts.length === 0) return [];
    const merged = new Map(this.ownersById);
    const changed: CrmOwnerRow[] = [];
    for (const upsert of upserts) {
      const known = merged.get(upsert.ownerId);
      const row: CrmOwnerRow = {
        ownerId: upsert.ownerId,
        name: upsert.name ?? known?.name,
        email: upsert.email ?? known?.email,
        slackUserId: upsert.slackUserId ?? known?.slackUserId,
        territory: upsert.territory ?? known?.territory,
        weight: upsert.weight ?? known?.weight,
        away: upsert.away ?? known?.away ?? false,
      };
      merged.set(row.ownerId, row);
      changed.push(row);
    }
    await writeDurably(
      join(this.dataDir, LIVE_SOURCE_FILES.owners),
      `${JSON.stringify({ owners: [...merged.values()] }, null, 2)}\n`,
    );
    this.ownersById.clear();
    for (const [id, row] of merged) this.ownersById.set(id, row);
    const all = this.owners();
    for (const listener of this.ownerListeners) listener(all);
    return changed;
  }

  /** Stores company rows durably, then keeps the latest of each company (by `updated_at`, else arrival). */
  async recordCompanies(rows: readonly CrmCompanyRow[]): Promise<void> {
    // A row identical to the one kept (a re-import) is not written again.
    const fresh = rows.filter((row) => {
      const kept = this.companies.get(row.companyId);
      return kept === undefined || JSON.stringify(kept) !== JSON.stringify(row);
    });
    if (fresh.length === 0) return;
    await appendDurably(
      join(this.dataDir, LIVE_SOURCE_FILES.companies),
      fresh.map((row) => JSON.stringify(row)),
    );
    for (const row of fresh) this.keepCompany(row);
  }

  /** Whether a Stripe event id was applied already (Stripe redelivers; the repeat changes nothing). */
  hasStripeEvent(eventId: string): boolean {
    return this.ledger.hasEvent(eventId);
  }

  /** Stores Stripe events (raw JSON text, exactly as received) durably, then applies them to the ledger. */
  async recordStripeEvents(
    events: readonly { readonly raw: string; readonly event: unknown }[],
  ): Promise<LedgerResult[]> {
    if (events.length === 0) return [];
    await appendDurably(
      join(this.dataDir, LIVE_SOURCE_FILES.stripeEvents),
      events.map((e) => e.raw.replace(/\r?\n/g, ' ')),
    );
    return events.map((e) => {
      const result = this.ledger.apply(e.event);
      this.stripeCounts[result.kind]++;
      if (result.kind === 'unhandled')
        this.unhandledTypes[result.type] = (this.unhandledTypes[result.type] ?? 0) + 1;
      return result;
    });
  }

  /** Counts a delivery that repeated an event id already applied (answered, not stored again). */
  countDuplicateStripeEvent(): void {
    this.stripeCounts.duplicate++;
  }

  /** Resolves the joins of the known companies and customers against the accounts given. */
  joins(accounts: readonly AccountJoinKeys[]): ResolvedJoins {
    return resolveJoins(
      accounts,
      [...this.companies.values()].map((c) => ({ companyId: c.companyId, domain: c.domain })),
      this.ledger.customers().map((c) => ({
        customerId: c.customerId,
        accountId: c.accountId,
        email: c.email,
      })),
    );
  }

  /**
   * The CRM and billing trait changes of the accounts joined to the given companies and customers (all
   * of their history: the store drops those already applied, by change id).
   */
  traitChanges(
    joins: ResolvedJoins,
    touched: { readonly companyIds?: readonly string[]; readonly customerIds?: readonly string[] },
  ): TraitChange[] {
    const changes: TraitChange[] = [];
    const companyIds = new Set(touched.companyIds ?? []);
    if (companyIds.size > 0) {
      for (const [accountId, companyId] of joins.companyOfAccount) {
        const row = this.companies.get(companyId);
        if (companyIds.has(companyId) && row !== undefined) changes.push(crmTraitChange(row, accountId));
      }
    }
    const accounts = new Set<string>();
    for (const customerId of touched.customerIds ?? []) {
      const accountId = joins.accountOfCustomer.get(customerId);
      if (accountId !== undefined) accounts.add(accountId);
    }
    if (accounts.size > 0) {
      const customersOfAccounts = new Map<string, string>();
      for (const [customerId, accountId] of joins.accountOfCustomer)
        if (accounts.has(accountId)) customersOfAccounts.set(customerId, accountId);
      changes.push(...billingTraitChanges(this.ledger, customersOfAccounts));
    }
    return changes.sort((a, b) => a.effectiveAt - b.effectiveAt);
  }

  private keepCompany(row: CrmCompanyRow): void {
    const previous = this.companies.get(row.companyId);
    const at = (r: CrmCompanyRow): number => r.updatedAt ?? r.createdAt ?? Number.NEGATIVE_INFINITY;
    if (previous === undefined || at(row) >= at(previous)) this.companies.set(row.companyId, row);
  }
}

/** An account's join keys from its merged traits (`crm_company_id`, `domain` or `website`). */
export function accountJoinKeys(
  accountId: string,
  traits: Readonly<Record<string, unknown>> | undefined,
): AccountJoinKeys {
  const crm = traits?.['crm_company_id'];
  const domain = traits?.['domain'] ?? traits?.['website'];
  return {
    accountId,
    crmCompanyId: typeof crm === 'string' || typeof crm === 'number' ? String(crm) : undefined,
    domain: typeof domain === 'string' ? domain : undefined,
  };
}

function parseLine(line: string): unknown {
  if (line.trim() === '') return undefined;
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return undefined;
  }
}

async function writeDurably(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, 'w');
  try {
    await file.write(text);
    await file.datasync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
}

async function appendDurably(path: string, lines: readonly string[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const file = await open(path, 'a');
  try {
    await file.write(`${lines.join('\n')}\n`);
    await file.datasync();
  } finally {
    await file.close();
  }
}
