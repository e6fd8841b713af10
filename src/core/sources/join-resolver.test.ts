import { describe, expect, it } from 'vitest';
import { resolveJoins, type AccountJoinKeys } from './join-resolver.js';

const account = (accountId: string, domain?: string, crmCompanyId?: string): AccountJoinKeys => ({
  accountId,
  domain,
  crmCompanyId,
});

describe('resolveJoins: accounts to CRM companies', () => {
  it('joins https://www.ACME.com/ in the CRM to an account on acme.com', () => {
    const { companyOfAccount, report } = resolveJoins(
      [account('acc_1', 'acme.com')],
      [{ companyId: 'c1', domain: 'https://www.ACME.com/' }],
      [],
    );
    expect(companyOfAccount.get('acc_1')).toBe('c1');
    expect(report.matched).toEqual([
      {
        source: 'crm',
        accountId: 'acc_1',
        recordId: 'c1',
        by: 'domain',
        domain: 'acme.com',
        note: undefined,
      },
    ]);
    expect(report.summary.crm).toEqual({
      subjects: 1,
      matchedById: 0,
      matchedByDomain: 1,
      unmatched: 0,
      ambiguous: 0,
      freeMail: 0,
    });
  });

  it('prefers the crm_company_id trait over the domain', () => {
    const { companyOfAccount, report } = resolveJoins(
      [account('acc_1', 'acme.com', 'c2')],
      [
        { companyId: 'c1', domain: 'acme.com' },
        { companyId: 'c2', domain: 'other.io' },
      ],
      [],
    );
    expect(companyOfAccount.get('acc_1')).toBe('c2');
    expect(report.matched[0]?.by).toBe('id');
  });

  it('joins nothing on gmail.com, even when a CRM "company" sits on gmail.com', () => {
    const { companyOfAccount, report } = resolveJoins(
      [account('acc_1', 'gmail.com')],
      [{ companyId: 'c1', domain: 'gmail.com' }],
      [{ customerId: 'cus_1', accountId: undefined, email: 'bob@gmail.com' }],
    );
    expect(companyOfAccount.size).toBe(0);
    expect(report.freeMail).toEqual([
      { source: 'crm', accountId: 'acc_1', customerId: undefined, domain: 'gmail.com' },
      { source: 'billing', accountId: undefined, customerId: 'cus_1', domain: 'gmail.com' },
    ]);
    expect(report.companiesWithoutAccount).toEqual(['c1']);
  });

  it('reports two companies on one domain as ambiguous and joins neither', () => {
    const { companyOfAccount, report } = resolveJoins(
      [account('acc_1', 'acme.com')],
      [
        { companyId: 'c1', domain: 'acme.com' },
        { companyId: 'c2', domain: 'http://www.acme.com/about' },
      ],
      [],
    );
    expect(companyOfAccount.size).toBe(0);
    expect(report.ambiguous).toEqual([
      {
        source: 'crm',
        accountId: 'acc_1',
        customerId: undefined,
        domain: 'acme.com',
        candidates: ['c1', 'c2'],
      },
    ]);
  });

  it('falls back to the domain when crm_company_id names no company, and says so', () => {
    const { report } = resolveJoins(
      [account('acc_1', 'acme.com', 'c9'), account('acc_2', undefined, 'c9'), account('acc_3')],
      [{ companyId: 'c1', domain: 'acme.com' }],
      [],
    );
    expect(report.matched.map((m) => [m.accountId, m.by, m.note])).toEqual([
      ['acc_1', 'domain', 'crm_company_id "c9" is not in the CRM'],
    ]);
    expect(report.unmatched.map((m) => [m.accountId, m.reason])).toEqual([
      ['acc_2', 'unknown_id'],
      ['acc_3', 'no_domain'],
    ]);
  });
});

describe('resolveJoins: Stripe customers to accounts', () => {
  it('joins by metadata.account_id first, else by the email domain', () => {
    const { accountOfCustomer, report } = resolveJoins(
      [account('acc_1', 'acme.com'), account('acc_2', 'beta.io')],
      [],
      [
        { customerId: 'cus_1', accountId: 'acc_1', email: 'x@beta.io' },
        { customerId: 'cus_2', accountId: undefined, email: 'Ann@BETA.io' },
        { customerId: 'cus_3', accountId: undefined, email: 'z@nowhere.dev' },
        { customerId: 'cus_4', accountId: 'acc_404', email: undefined },
      ],
    );
    expect([...accountOfCustomer]).toEqual([
      ['cus_1', 'acc_1'],
      ['cus_2', 'acc_2'],
    ]);
    expect(report.summary.billing).toEqual({
      subjects: 4,
      matchedById: 1,
      matchedByDomain: 1,
      unmatched: 2,
      ambiguous: 0,
      freeMail: 0,
    });
    expect(
      report.unmatched.filter((m) => m.source === 'billing').map((m) => [m.customerId, m.reason]),
    ).toEqual([
      ['cus_3', 'no_match'],
      ['cus_4', 'unknown_id'],
    ]);
  });

  it('reports a customer domain shared by two accounts as ambiguous', () => {
    const { accountOfCustomer, report } = resolveJoins(
      [account('acc_1', 'acme.com'), account('acc_2', 'www.acme.com')],
      [],
      [{ customerId: 'cus_1', accountId: undefined, email: 'a@acme.com' }],
    );
    expect(accountOfCustomer.size).toBe(0);
    expect(report.ambiguous[0]?.candidates).toEqual(['acc_1', 'acc_2']);
  });

  it("uses the joined CRM company's domain for an account without a domain trait", () => {
    const { accountOfCustomer } = resolveJoins(
      [account('acc_1', undefined, 'c1')],
      [{ companyId: 'c1', domain: 'https://acme.com' }],
      [{ customerId: 'cus_1', accountId: undefined, email: 'a@acme.com' }],
    );
    expect(accountOfCustomer.get('cus_1')).toBe('acc_1');
  });
});
