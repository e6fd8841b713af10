import { emailDomain, isFreeMailDomain, normalizeDomain } from './domain.js';

/** What an account offers for joining: its `crm_company_id` and `domain` traits (latest values). */
export interface AccountJoinKeys {
  readonly accountId: string;
  readonly crmCompanyId: string | undefined;
  /** As sent (a URL, capitals...); normalized here. */
  readonly domain: string | undefined;
}

/** What a CRM company offers for joining. */
export interface CompanyJoinKeys {
  readonly companyId: string;
  /** As typed in the CRM; normalized here. */
  readonly domain: string | undefined;
}

/** What a Stripe customer offers for joining: `metadata.account_id` and its email. */
export interface CustomerJoinKeys {
  readonly customerId: string;
  readonly accountId: string | undefined;
  readonly email: string | undefined;
}

/** An account joined to a CRM company, or a Stripe customer joined to an account. */
export interface JoinMatch {
  readonly source: 'crm' | 'billing';
  readonly accountId: string;
  /** The CRM company id or the Stripe customer id. */
  readonly recordId: string;
  /** 'id': by `crm_company_id` / `metadata.account_id`; 'domain': by normalized domain. */
  readonly by: 'id' | 'domain';
  readonly domain: string | undefined;
  /** Set when an explicit id was given but named nothing, so the domain was used instead. */
  readonly note: string | undefined;
}

/** A subject (an account for CRM, a customer for billing) that joined nothing. */
export interface JoinMiss {
  readonly source: 'crm' | 'billing';
  readonly accountId: string | undefined;
  readonly customerId: string | undefined;
  readonly domain: string | undefined;
  readonly reason: 'no_domain' | 'no_match' | 'unknown_id';
  readonly message: string;
}

/** A domain join with several candidates: not joined, reported. */
export interface JoinAmbiguity {
  readonly source: 'crm' | 'billing';
  readonly accountId: string | undefined;
  readonly customerId: string | undefined;
  readonly domain: string;
  /** The CRM company ids (crm) or account ids (billing) on that domain. */
  readonly candidates: readonly string[];
}

/** A subject whose only join key is a free-mail domain: never joined. */
export interface JoinFreeMail {
  readonly source: 'crm' | 'billing';
  readonly accountId: string | undefined;
  readonly customerId: string | undefined;
  readonly domain: string;
}

/** Counts of one side of the join-health report. */
export interface JoinCounts {
  readonly subjects: number;
  readonly matchedById: number;
  readonly matchedByDomain: number;
  readonly unmatched: number;
  readonly ambiguous: number;
  readonly freeMail: number;
}

/**
 * The join-health report: every account's CRM outcome and every Stripe customer's outcome, in named
 * arrays, plus counts. Nothing fails silently: each subject is in exactly one array per source.
 */
export interface JoinReport {
  readonly matched: readonly JoinMatch[];
  readonly unmatched: readonly JoinMiss[];
  readonly ambiguous: readonly JoinAmbiguity[];
  readonly freeMail: readonly JoinFreeMail[];
  /** CRM companies no account joined (prospects, or accounts that failed to join). */
  readonly companiesWithoutAccount: readonly string[];
  readonly summary: { readonly accounts: number; readonly crm: JoinCounts; readonly billing: JoinCounts };
}

/** The resolved joins: account → CRM company id, Stripe customer id → account, with the report. */
export interface ResolvedJoins {
  readonly companyOfAccount: ReadonlyMap<string, string>;
  readonly accountOfCustomer: ReadonlyMap<string, string>;
  readonly report: JoinReport;
}

function addTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/**
 * Resolves the joins of DESIGN.md: an account to a CRM company by its `crm_company_id` trait, else by
 * normalized domain; a Stripe customer to an account by `metadata.account_id`, else by its email's
 * domain. Free-mail domains never join; a domain with two candidates is ambiguous and joins nothing.
 * An explicit id that names nothing falls back to the domain (noted on the match).
 */
export function resolveJoins(
  accounts: readonly AccountJoinKeys[],
  companies: readonly CompanyJoinKeys[],
  customers: readonly CustomerJoinKeys[],
): ResolvedJoins {
  const matched: JoinMatch[] = [];
  const unmatched: JoinMiss[] = [];
  const ambiguous: JoinAmbiguity[] = [];
  const freeMail: JoinFreeMail[] = [];

  const companyIds = new Set(companies.map((c) => c.companyId));
  const companiesByDomain = new Map<string, string[]>();
  const companyDomain = new Map<string, string>();
  for (const company of companies) {
    const domain = company.domain === undefined ? undefined : normalizeDomain(company.domain);
    if (domain === undefined) continue;
    companyDomain.set(company.companyId, domain);
    if (isFreeMailDomain(domain)) continue;
    const list = companiesByDomain.get(domain);
    if (list === undefined) companiesByDomain.set(domain, [company.companyId]);
    else if (!list.includes(company.companyId)) list.push(company.companyId);
  }

  const companyOfAccount = new Map<string, string>();
  const accountDomain = new Map<string, string>();
  const crm = { subjects: accounts.length, matchedById: 0, matchedByDomain: 0, unmatched: 0, ambiguous: 0, freeMail: 0 }; // prettier-ignore
  for (const account of accounts) {
    const { accountId } = account;
    const domain = account.domain === undefined ? undefined : normalizeDomain(account.domain);
    if (domain !== undefined) accountDomain.set(accountId, domain);
    let note: string | undefined;
    if (account.crmCompanyId !== undefined && account.crmCompanyId !== '') {
      if (companyIds.has(account.crmCompanyId)) {
        companyOfAccount.set(accountId, account.crmCompanyId);
        matched.push({ source: 'crm', accountId, recordId: account.crmCompanyId, by: 'id', domain, note });
        crm.matchedById++;
        continue;
      }
      note = `crm_company_id "${account.crmCompanyId}" is not in the CRM`;
    }
    if (domain === undefined) {
      const reason = note === undefined ? 'no_domain' : 'unknown_id';
      const message = note ?? 'the account has no domain trait and no crm_company_id';
      unmatched.push({ source: 'crm', accountId, customerId: undefined, domain, reason, message });
      crm.unmatched++;
      continue;
    }
    if (isFreeMailDomain(domain)) {
      freeMail.push({ source: 'crm', accountId, customerId: undefined, domain });
      crm.freeMail++;
      continue;
    }
    const candidates = companiesByDomain.get(domain) ?? [];
    if (candidates.length === 1) {
      const companyId = candidates[0] as string;
      companyOfAccount.set(accountId, companyId);
      matched.push({ source: 'crm', accountId, recordId: companyId, by: 'domain', domain, note });
      crm.matchedByDomain++;
    } else if (candidates.length > 1) {
      ambiguous.push({ source: 'crm', accountId, customerId: undefined, domain, candidates });
      crm.ambiguous++;
    } else {
      const reason = note === undefined ? 'no_match' : 'unknown_id';
      const message = note ?? `no CRM company on ${domain}`;
      unmatched.push({ source: 'crm', accountId, customerId: undefined, domain, reason, message });
      crm.unmatched++;
    }
  }
  const joinedCompanies = new Set(companyOfAccount.values());
  const companiesWithoutAccount = companies.map((c) => c.companyId).filter((id) => !joinedCompanies.has(id));

  // An account without a domain trait borrows its CRM company's domain for the billing join.
  const accountsByDomain = new Map<string, string[]>();
  for (const account of accounts) {
    const company = companyOfAccount.get(account.accountId);
    const domain =
      accountDomain.get(account.accountId) ??
      (company === undefined ? undefined : companyDomain.get(company));
    if (domain !== undefined && !isFreeMailDomain(domain)) addTo(accountsByDomain, domain, account.accountId);
  }
  const knownAccounts = new Set(accounts.map((a) => a.accountId));
  const accountOfCustomer = new Map<string, string>();
  const billing = { subjects: customers.length, matchedById: 0, matchedByDomain: 0, unmatched: 0, ambiguous: 0, freeMail: 0 }; // prettier-ignore
  for (const customer of customers) {
    const { customerId } = customer;
    const domain = customer.email === undefined ? undefined : emailDomain(customer.email);
    let note: string | undefined;
    if (customer.accountId !== undefined && customer.accountId !== '') {
      if (knownAccounts.has(customer.accountId)) {
        accountOfCustomer.set(customerId, customer.accountId);
        matched.push({ source: 'billing', accountId: customer.accountId, recordId: customerId, by: 'id', domain, note }); // prettier-ignore
        billing.matchedById++;
        continue;
      }
      note = `metadata.account_id "${customer.accountId}" is not a known account`;
    }
    if (domain === undefined) {
      const reason = note === undefined ? 'no_domain' : 'unknown_id';
      const message = note ?? 'the customer has no email and no metadata.account_id';
      unmatched.push({ source: 'billing', accountId: undefined, customerId, domain, reason, message });
      billing.unmatched++;
      continue;
    }
    if (isFreeMailDomain(domain)) {
      freeMail.push({ source: 'billing', accountId: undefined, customerId, domain });
      billing.freeMail++;
      continue;
    }
    const candidates = accountsByDomain.get(domain) ?? [];
    if (candidates.length === 1) {
      const accountId = candidates[0] as string;
      accountOfCustomer.set(customerId, accountId);
      matched.push({ source: 'billing', accountId, recordId: customerId, by: 'domain', domain, note });
      billing.matchedByDomain++;
    } else if (candidates.length > 1) {
      ambiguous.push({ source: 'billing', accountId: undefined, customerId, domain, candidates });
      billing.ambiguous++;
    } else {
      const reason = note === undefined ? 'no_match' : 'unknown_id';
      const message = note ?? `no account on ${domain}`;
      unmatched.push({ source: 'billing', accountId: undefined, customerId, domain, reason, message });
      billing.unmatched++;
    }
  }

  return {
    companyOfAccount,
    accountOfCustomer,
    report: {
      matched,
      unmatched,
      ambiguous,
      freeMail,
      companiesWithoutAccount,
      summary: { accounts: accounts.length, crm, billing },
    },
  };
}
