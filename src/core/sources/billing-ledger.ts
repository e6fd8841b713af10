import { MRR_STATUSES, isPriceInterval, monthlyAmount, toMajorUnits } from './mrr.js';

/** The Stripe event types the ledger understands; others are acknowledged and counted. */
export const HANDLED_STRIPE_EVENTS: ReadonlySet<string> = new Set([
  'customer.created',
  'customer.updated',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'invoice.paid',
]);

/** What applying one Stripe event did. `stale`: older than what is known, kept only for history. */
export type LedgerResult =
  | { readonly kind: 'applied'; readonly customerId: string; readonly stale: boolean }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'unhandled'; readonly type: string }
  | { readonly kind: 'invalid'; readonly code: string; readonly message: string };

/** A Stripe customer as the ledger keeps it (its latest state by event time). */
export interface LedgerCustomer {
  readonly customerId: string;
  readonly at: number;
  /** `metadata.account_id`, the explicit join to an account. */
  readonly accountId: string | undefined;
  readonly email: string | undefined;
}

/** Billing traits of an account from a point in time on. */
export interface BillingTraits {
  readonly paying: boolean;
  /** Monthly recurring revenue in major units of `mrr_currency` (no FX conversion). */
  readonly mrr: number;
  readonly mrr_currency?: string;
  readonly plan?: string;
  /** ISO time of the first invoice.paid with amount_paid > 0. */
  readonly converted_at?: string;
}

/** A change of an account's billing traits at `at` (epoch ms). */
export interface BillingPoint {
  readonly at: number;
  readonly traits: BillingTraits;
}

interface SubscriptionSnapshot {
  readonly at: number;
  readonly seq: number;
  readonly status: string;
  readonly canceled: boolean;
  /** Monthly amount in minor units, per currency, of the items (counted only when the status is active). */
  readonly monthly: number;
  readonly currency: string;
  readonly plan: string | undefined;
}

interface SubscriptionHistory {
  customerId: string;
  /** When the subscription was first seen, among all subscriptions (timelines keep this order). */
  readonly ordinal: number;
  readonly snapshots: SubscriptionSnapshot[];
}

interface PaidInvoice {
  readonly at: number;
  readonly amountPaid: number;
  readonly customerId: string;
}

type Json = Readonly<Record<string, unknown>>;

function record(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function idOf(value: unknown): string | undefined {
  return text(value) ?? text(record(value)?.['id']);
}

function finite(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  return undefined;
}

/** Monthly amount (minor units) and a plan label of a subscription object's licensed items. */
function subscriptionItems(subscription: Json): {
  monthly: number;
  currency: string;
  plan: string | undefined;
} {
  let monthly = 0;
  let best = -1;
  let plan: string | undefined;
  let currency = text(subscription['currency']) ?? '';
  const items = record(subscription['items'])?.['data'];
  for (const item of Array.isArray(items) ? items : []) {
    const it = record(item);
    if (it === undefined) continue;
    // `price` since 2020; older API versions put the same fields on `plan`.
    const price = record(it['price']) ?? record(it['plan']);
    if (price === undefined) continue;
    const recurring = record(price['recurring']);
    const interval = recurring?.['interval'] ?? price['interval'];
    const intervalCount = finite(recurring?.['interval_count'] ?? price['interval_count']) ?? 1;
    const usage = recurring?.['usage_type'] ?? price['usage_type'];
    const unit =
      finite(price['unit_amount']) ?? finite(price['unit_amount_decimal']) ?? finite(price['amount']);
    if (!isPriceInterval(interval) || usage === 'metered' || unit === undefined) continue;
    const quantity = finite(it['quantity']) ?? 1;
    const amount = monthlyAmount(unit, quantity, interval, intervalCount);
    monthly += amount;
    currency = text(price['currency']) ?? currency;
    if (amount > best) {
      best = amount;
      plan =
        text(price['nickname']) ?? text(price['lookup_key']) ?? idOf(price['product']) ?? text(price['id']);
    }
  }
  return { monthly, currency: currency.toLowerCase(), plan };
}

/**
 * Stripe billing state per customer, built from Stripe Event objects in any order: each event carries
 * its object's whole state at the event's `created` time, so a subscription's history is the list of
 * those snapshots by time, and a stale delivery (older than one already seen) only fills in history,
 * never overwrites a newer state. Idempotent by event id. Pure: no clock, no I/O.
 */
export class BillingLedger {
  private readonly seen = new Set<string>();
  private readonly customerState = new Map<string, LedgerCustomer>();
  private readonly subscriptions = new Map<string, SubscriptionHistory>();
  private readonly invoices = new Map<string, PaidInvoice>();
  /** The same subscriptions and invoice ids by customer: a timeline reads only its own customers'. */
  private readonly subscriptionsOf = new Map<string, SubscriptionHistory[]>();
  private readonly invoicesOf = new Map<string, Set<string>>();
  private seq = 0;

  /** Whether the event id was applied (or acknowledged as unhandled) already. */
  hasEvent(eventId: string): boolean {
    return this.seen.has(eventId);
  }

  /** Applies one Stripe Event object (parsed JSON); never throws on bad input. */
  apply(input: unknown): LedgerResult {
    const event = record(input);
    const id = text(event?.['id']);
    const type = text(event?.['type']);
    const created = finite(event?.['created']);
    const object = record(record(event?.['data'])?.['object']);
    if (event === undefined || id === undefined || type === undefined)
      return { kind: 'invalid', code: 'not_an_event', message: 'expected a Stripe Event with id and type' };
    if (this.seen.has(id)) return { kind: 'duplicate' };
    if (!HANDLED_STRIPE_EVENTS.has(type)) {
      this.seen.add(id);
      return { kind: 'unhandled', type };
    }
    if (created === undefined)
      return { kind: 'invalid', code: 'missing_created', message: 'created: expected unix seconds' };
    if (object === undefined)
      return { kind: 'invalid', code: 'missing_object', message: 'data.object: expected an object' };
    const at = created * 1000;
    let result: LedgerResult;
    if (type.startsWith('customer.subscription.')) result = this.applySubscription(object, at, type);
    else if (type === 'invoice.paid') result = this.applyInvoice(object, at);
    else result = this.applyCustomer(object, at);
    if (result.kind === 'applied') this.seen.add(id);
    return result;
  }

  private applyCustomer(object: Json, at: number): LedgerResult {
    const customerId = text(object['id']);
    if (customerId === undefined)
      return { kind: 'invalid', code: 'missing_customer', message: 'data.object.id: expected a customer id' };
    const known = this.customerState.get(customerId);
    const stale = known !== undefined && known.at > at;
    if (!stale) {
      const accountId = text(record(object['metadata'])?.['account_id']);
      this.customerState.set(customerId, { customerId, at, accountId, email: text(object['email']) });
    }
    return { kind: 'applied', customerId, stale };
  }

  private applySubscription(object: Json, at: number, type: string): LedgerResult {
    const subscriptionId = text(object['id']);
    const customerId = idOf(object['customer']);
    if (subscriptionId === undefined || customerId === undefined)
      return { kind: 'invalid', code: 'missing_customer', message: 'data.object: expected id and customer' };
    const status = type === 'customer.subscription.deleted' ? 'canceled' : (text(object['status']) ?? '');
    const items = subscriptionItems(object);
    let history = this.subscriptions.get(subscriptionId);
    if (history === undefined) {
      history = { customerId, ordinal: this.subscriptions.size, snapshots: [] };
      this.subscriptions.set(subscriptionId, history);
      const owned = this.subscriptionsOf.get(customerId);
      if (owned === undefined) this.subscriptionsOf.set(customerId, [history]);
      else owned.push(history);
    }
    const latest = history.snapshots[history.snapshots.length - 1];
    const stale = latest !== undefined && latest.at > at;
    const snapshot = { at, seq: this.seq++, status, canceled: status === 'canceled', ...items };
    let i = history.snapshots.length;
    while (i > 0 && (history.snapshots[i - 1] as SubscriptionSnapshot).at > at) i--;
    history.snapshots.splice(i, 0, snapshot);
    this.touchCustomer(customerId);
    return { kind: 'applied', customerId, stale };
  }

  private applyInvoice(object: Json, at: number): LedgerResult {
    const invoiceId = text(object['id']);
    const customerId = idOf(object['customer']);
    if (invoiceId === undefined || customerId === undefined)
      return { kind: 'invalid', code: 'missing_customer', message: 'data.object: expected id and customer' };
    const paidAt = finite(record(object['status_transitions'])?.['paid_at']);
    const amountPaid = finite(object['amount_paid']) ?? 0;
    const previous = this.invoices.get(invoiceId);
    if (previous !== undefined && previous.customerId !== customerId)
      this.invoicesOf.get(previous.customerId)?.delete(invoiceId);
    this.invoices.set(invoiceId, { at: paidAt === undefined ? at : paidAt * 1000, amountPaid, customerId });
    const owned = this.invoicesOf.get(customerId);
    if (owned === undefined) this.invoicesOf.set(customerId, new Set([invoiceId]));
    else owned.add(invoiceId);
    this.touchCustomer(customerId, text(object['customer_email']));
    return { kind: 'applied', customerId, stale: false };
  }

  /** Registers a customer first seen on a subscription or invoice (its customer event may come later). */
  private touchCustomer(customerId: string, email?: string): void {
    if (this.customerState.has(customerId)) return;
    // At -Infinity, so that the real customer object, whenever it arrives, replaces this placeholder.
    this.customerState.set(customerId, {
      customerId,
      at: Number.NEGATIVE_INFINITY,
      accountId: undefined,
      email,
    });
  }

  /** Every customer seen, with its latest known state. */
  customers(): readonly LedgerCustomer[] {
    return [...this.customerState.values()];
  }

  /**
   * The billing traits of the account that owns `customerIds`, as a list of changes over time: one point
   * per subscription snapshot or paid invoice that changed something. MRR sums the active subscriptions'
   * licensed items; with several currencies it reports the largest (no FX conversion).
   */
  timeline(customerIds: readonly string[]): readonly BillingPoint[] {
    const owned = [...new Set(customerIds)];
    const subscriptions = owned
      .flatMap((c) => this.subscriptionsOf.get(c) ?? [])
      .sort((a, b) => a.ordinal - b.ordinal);
    const invoices = owned.flatMap((c) =>
      [...(this.invoicesOf.get(c) ?? [])].map((id) => this.invoices.get(id) as PaidInvoice),
    );
    let firstPaid: number | undefined;
    for (const invoice of invoices)
      if (invoice.amountPaid > 0 && (firstPaid === undefined || invoice.at < firstPaid))
        firstPaid = invoice.at;
    const times = new Set<number>();
    for (const s of subscriptions) for (const snapshot of s.snapshots) times.add(snapshot.at);
    for (const invoice of invoices) times.add(invoice.at);
    const points: BillingPoint[] = [];
    let previous = '';
    for (const at of [...times].sort((a, b) => a - b)) {
      const traits = this.traitsAt(subscriptions, firstPaid, at);
      const key = JSON.stringify(traits);
      if (key === previous) continue;
      previous = key;
      points.push({ at, traits });
    }
    return points;
  }

  private traitsAt(
    subscriptions: readonly SubscriptionHistory[],
    firstPaid: number | undefined,
    at: number,
  ): BillingTraits {
    const byCurrency = new Map<string, number>();
    let active = false;
    let trialing = false;
    let existing = false;
    let plan: string | undefined;
    let planAmount = -1;
    for (const subscription of subscriptions) {
      const snapshot = snapshotAt(subscription.snapshots, at);
      if (snapshot === undefined) continue;
      existing = true;
      if (snapshot.status === 'trialing') trialing = true;
      if (!MRR_STATUSES.has(snapshot.status)) continue;
      active = true;
      byCurrency.set(snapshot.currency, (byCurrency.get(snapshot.currency) ?? 0) + snapshot.monthly);
      if (snapshot.monthly > planAmount) {
        planAmount = snapshot.monthly;
        plan = snapshot.plan;
      }
    }
    let mrr = 0;
    let currency: string | undefined;
    for (const [c, amount] of byCurrency) {
      if (amount > mrr || currency === undefined) {
        mrr = amount;
        currency = c;
      }
    }
    const mrrMajor = currency === undefined ? 0 : toMajorUnits(mrr, currency);
    const converted = firstPaid !== undefined && firstPaid <= at;
    const label = active ? (plan ?? 'paid') : trialing ? 'trial' : existing ? 'canceled' : undefined;
    return {
      paying: mrrMajor > 0 || (converted && active),
      mrr: mrrMajor,
      ...(currency === undefined ? {} : { mrr_currency: currency }),
      ...(label === undefined ? {} : { plan: label }),
      ...(converted ? { converted_at: new Date(firstPaid).toISOString() } : {}),
    };
  }
}

/** The snapshot in force at `at`: the latest at or before it; a cancellation is final (Stripe never revives one). */
function snapshotAt(
  snapshots: readonly SubscriptionSnapshot[],
  at: number,
): SubscriptionSnapshot | undefined {
  let found: SubscriptionSnapshot | undefined;
  for (const snapshot of snapshots) {
    if (snapshot.at > at) break;
    if (snapshot.canceled) return snapshot;
    // At equal times a later-arriving snapshot wins, except over a cancellation (returned above).
    found = snapshot;
  }
  return found;
}

/**
 * The points to send to the engine after a timeline was recomputed (live webhooks, late deliveries):
 * every point of `next` that is new or whose traits differ from what `previous` said at that time.
 */
export function diffBillingTimelines(
  previous: readonly BillingPoint[],
  next: readonly BillingPoint[],
): readonly BillingPoint[] {
  const before = new Map(previous.map((p) => [p.at, JSON.stringify(p.traits)]));
  const changes: BillingPoint[] = [];
  for (const point of next) {
    if (before.get(point.at) !== JSON.stringify(point.traits)) changes.push(point);
  }
  // A time that only the old timeline had now takes the new value in force then.
  for (const point of previous) {
    if (next.some((p) => p.at === point.at)) continue;
    let inForce: BillingPoint | undefined;
    for (const p of next) if (p.at <= point.at) inForce = p;
    const traits: BillingTraits = inForce?.traits ?? { paying: false, mrr: 0 };
    if (JSON.stringify(traits) !== JSON.stringify(point.traits)) changes.push({ at: point.at, traits });
  }
  return changes.sort((a, b) => a.at - b.at);
}
