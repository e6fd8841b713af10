import type { AccountJoinKeys } from '../../core/sources/join-resolver.js';
import type { Store } from '../../store/store.js';
import { accountJoinKeys } from '../live-sources.js';

/** Accounts read from the store per page while collecting join keys. */
const PAGE = 5000;

/** Traits as the engine summarizes them: a value and the source it came from. */
type SourcedTraits = Readonly<Record<string, { readonly value: unknown; readonly source: string }>>;

/**
 * The join keys of every account a store knows (its merged traits keep `domain` and `crm_company_id`),
 * then of accounts only `extra` names (those that sent tracks alone have no stored traits, but a Stripe
 * customer's `metadata.account_id` can still name them). A `crm_company_id` counts only from the product:
 * the one a CRM join wrote back is not a join key.
 */
export async function storeJoinKeys(
  store: Store,
  extra: Iterable<readonly [accountId: string, traits: SourcedTraits]> = [],
): Promise<AccountJoinKeys[]> {
  const keys = new Map<string, AccountJoinKeys>();
  for (let offset = 0; ; offset += PAGE) {
    const page = await store.listAccounts({ limit: PAGE, offset });
    for (const account of page) {
      const traits: Record<string, unknown> = {};
      for (const [name, entry] of Object.entries(account.traits)) traits[name] = entry.value;
      // The product's own id, even where a CRM join wrote its company id back later.
      traits['crm_company_id'] = account.bySource.product?.['crm_company_id']?.value;
      keys.set(account.accountId, accountJoinKeys(account.accountId, traits));
    }
    if (page.length < PAGE) break;
  }
  for (const [accountId, traits] of extra) {
    if (!keys.has(accountId)) keys.set(accountId, joinKeys(accountId, traits));
  }
  return [...keys.values()];
}

function joinKeys(accountId: string, traits: SourcedTraits): AccountJoinKeys {
  const values: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(traits))
    if (name !== 'crm_company_id' || entry.source === 'product') values[name] = entry.value;
  return accountJoinKeys(accountId, values);
}
