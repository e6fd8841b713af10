import { existsSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TraitChange } from '../core/events/event.js';
import { BillingLedger, type LedgerResult } from '../core/sources/billing-ledger.js';
import { resolveJoins, type AccountJoinKeys, type ResolvedJoins } from '../core/sources/join-resolver.js';
import {
  billingTraitChanges,
  crmTraitChange,
  type CrmCompanyRow,
} from '../core/sources/source-trait-changes.js';
import { readLines } from './read-lines.js';

/** Files under the data directory that hold what the CRM and Stripe sent, as received. */
export const LIVE_SOURCE_FILES = {
  companies: join('crm', 'companies.ndjson'),
  stripeEvents: join('billing', 'stripe-events.ndjson'),
} as const;

/**
 * The CRM companies and Stripe events a running server has received (API upserts, webhooks, imports),
 * kept durably as NDJSON under the data directory and in memory as the latest company rows and a billing
 * ledger, so joins can be resolved and trait changes derived at any time. Each record is appended and
 * synced before it is applied: an acknowledged webhook is never lost.
 */
export class LiveSources {
  private readonly companies = new Map<string, CrmCompanyRow>();
  private readonly ledger = new BillingLedger();

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
    return sources;
  }

  /** How many companies and Stripe customers are known. */
  counts(): { readonly companies: number; readonly customers: number } {
    return { companies: this.companies.size, customers: this.ledger.customers().length };
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
    return events.map((e) => this.ledger.apply(e.event));
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
