import { createRandom, mixSeed, type Random } from './random.js';

const SECOND = 1_000;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Default start of a demo world: 2026-03-01T00:00:00Z. */
export const DEFAULT_DEMO_START = Date.UTC(2026, 2, 1);

// Independent PRNG streams per account, so planning, event bodies and billing never shift each other.
const STREAM_PLAN = 1;
const STREAM_EVENTS = 2;
const STREAM_BLOCKS = 3;
const STREAM_PROSPECTS = 4;

/** Options of `generateDemoWorld`; every field has a default. */
export interface DemoWorldOptions {
  /** PRNG seed; the same seed gives byte-identical output. Default 42. */
  readonly seed?: number;
  /** Number of accounts (workspaces). Default 3,000. */
  readonly accounts?: number;
  /** Start of the period, epoch ms. Default 2026-03-01T00:00:00Z. */
  readonly start?: number;
  /** Length of the period in days; sign-ups spread over it, nothing happens after it. Default 180. */
  readonly days?: number;
  /** Approximate mean number of events per account; scales background activity only (planted behaviour is unchanged). Default ~155 (heavy-tailed). */
  readonly eventsPerAccount?: number;
}

/** `context` of a demo message: `groupId` names the account when the account's instrumentation sends it. */
export interface SegmentContext {
  readonly groupId?: string;
}

interface SegmentBase {
  readonly messageId: string;
  /** ISO-8601 with milliseconds and `Z`. */
  readonly timestamp: string;
  readonly context: SegmentContext;
}

/** A Segment `track` call of the demo world. */
export interface SegmentTrack extends SegmentBase {
  readonly type: 'track';
  readonly userId: string;
  readonly event: string;
  readonly properties: Readonly<Record<string, unknown>>;
}

/** A Segment `page` call of the demo world; anonymous before sign-up. */
export interface SegmentPage extends SegmentBase {
  readonly type: 'page';
  readonly userId?: string;
  readonly anonymousId?: string;
  readonly name: string;
  readonly properties: Readonly<Record<string, unknown>>;
}

/** A Segment `identify` call of the demo world. */
export interface SegmentIdentify extends SegmentBase {
  readonly type: 'identify';
  readonly userId: string;
  readonly anonymousId?: string;
  readonly traits: Readonly<Record<string, unknown>>;
}

/** A Segment `group` call of the demo world: the user is a member of `groupId` with these account traits. */
export interface SegmentGroup extends SegmentBase {
  readonly type: 'group';
  readonly userId: string;
  readonly groupId: string;
  readonly traits: Readonly<Record<string, unknown>>;
}

/** A Segment `alias` call of the demo world: `previousId` (an anonymousId) is `userId`. */
export interface SegmentAlias extends SegmentBase {
  readonly type: 'alias';
  readonly userId: string;
  readonly previousId: string;
}

/** A plain Segment-spec message as the demo world writes it to `events.ndjson`. */
export type SegmentMessage = SegmentTrack | SegmentPage | SegmentIdentify | SegmentGroup | SegmentAlias;

/** A person in a demo account. */
export interface DemoUser {
  readonly userId: string;
  /** Set for a first user who browsed anonymously before signing up (then `alias`ed). */
  readonly anonymousId: string | undefined;
  readonly name: string;
  readonly email: string;
  /** Time of the user's first identified event; may be after the period (then the user never appears). */
  readonly joinedAt: number;
}

/** A demo account (workspace) with its firmographics and how it joins the CRM and Stripe. */
export interface DemoAccount {
  readonly accountId: string;
  readonly name: string;
  /** The account's email domain; a free-mail domain for solo founders. */
  readonly domain: string;
  readonly freeMail: boolean;
  readonly employees: number;
  readonly industry: string;
  readonly country: string;
  readonly plan: 'free' | 'trial';
  readonly signupAt: number;
  readonly users: readonly DemoUser[];
  /** CRM company the account belongs to, when it has one (possibly ambiguous by domain). */
  readonly crmCompanyId: string | undefined;
  /** How the account can be joined to its CRM company: the `crm_company_id` group trait, its domain, or not at all. */
  readonly crmJoin: 'trait' | 'domain' | 'none';
  readonly stripeCustomerId: string | undefined;
}

/** Ground truth of one account: its latent intent and the planted behaviour, measured on the emitted events. */
export interface AccountTruth {
  readonly accountId: string;
  readonly signupAt: number;
  /** First paid invoice (amount > 0), whole seconds; undefined when the account did not pay within the period. */
  readonly convertedAt: number | undefined;
  /** When the paid subscription ended, if it did within the period. */
  readonly churnedAt: number | undefined;
  /** Latent purchase intent (standard normal, shifted up for ICP fit and trials). */
  readonly intent: number;
  /** employees >= 10 and country in US/CA/GB/DE/FR/NL/AU. */
  readonly icp: boolean;
  /** Project Created -> Workflow Created -> Step Added -> Workflow Run, all before signup + 14 days. */
  readonly workflowFunnelWithin14d: boolean;
  readonly firstApiCallAt: number | undefined;
  /** Any track/page event on a later UTC day than the first API call and at most 7 x 24 h after it. */
  readonly returnedWithin7dOfFirstCall: boolean;
  /** Sum of `Events Processed` properties.count before signup + 30 days. */
  readonly eventsProcessedFirst30d: number;
  /** Users with a track/page event before signup + 30 days. */
  readonly activeUsersFirst30d: number;
}

/** A row of `crm/companies.csv`; times in epoch ms. */
export interface CrmCompany {
  readonly companyId: string;
  readonly name: string;
  /** As typed in the CRM: sometimes with a scheme, `www.`, a path or capitals. */
  readonly domain: string;
  readonly employees: number | undefined;
  readonly industry: string;
  readonly country: string;
  readonly ownerId: string | undefined;
  readonly lifecycleStage: string;
  readonly leadSource: string;
  readonly mqlAt: number | undefined;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A row of `crm/owners.csv`: a sales rep who can own accounts and receive PQL alerts. */
export interface CrmOwner {
  readonly ownerId: string;
  readonly name: string;
  readonly email: string;
  readonly slackUserId: string;
  readonly territory: 'NA' | 'EMEA' | 'APAC';
  readonly weight: number;
  readonly away: boolean;
}

/** A Stripe Event object as delivered by webhooks (`created` in unix seconds). */
export interface StripeEvent {
  readonly id: string;
  readonly object: 'event';
  readonly api_version: string;
  readonly created: number;
  readonly livemode: false;
  readonly pending_webhooks: number;
  readonly request: { readonly id: string | null; readonly idempotency_key: string | null };
  readonly type: string;
  readonly data: {
    readonly object: Readonly<Record<string, unknown>>;
    readonly previous_attributes?: Readonly<Record<string, unknown>>;
  };
}

/** A generated world: accounts, their ground truth, CRM, Stripe events and a re-playable stream of product events. */
export interface DemoWorld {
  readonly seed: number;
  readonly start: number;
  /** End of the period (exclusive), epoch ms; no event or Stripe event is at or after it. */
  readonly end: number;
  readonly accounts: readonly DemoAccount[];
  /** Ground truth, in the same order as `accounts`. */
  readonly truth: readonly AccountTruth[];
  readonly companies: readonly CrmCompany[];
  readonly owners: readonly CrmOwner[];
  /** Stripe events ordered by `created`. */
  readonly stripeEvents: readonly StripeEvent[];
  /** Every product event, account by account, each account's events in time order; regenerated on each call. */
  events(): Generator<SegmentMessage>;
  /** One account's product events in time order; throws for an unknown account id. */
  accountEvents(accountId: string): Generator<SegmentMessage>;
  /** Every product event in global timestamp order (a k-way merge of the accounts), like a real export. */
  eventsByTime(): Generator<SegmentMessage>;
}

// ---------------------------------------------------------------------------------------------------------
// Reference data

const COUNTRIES = [
  'US',
  'CA',
  'GB',
  'DE',
  'FR',
  'NL',
  'AU',
  'IN',
  'BR',
  'ES',
  'PL',
  'SG',
  'JP',
  'MX',
  'NG',
] as const;
const COUNTRY_WEIGHTS = [30, 5, 8, 7, 5, 3, 4, 14, 8, 3, 3, 2, 2, 3, 3];
const ICP_COUNTRIES: ReadonlySet<string> = new Set(['US', 'CA', 'GB', 'DE', 'FR', 'NL', 'AU']);
const TZ_OFFSET_HOURS: Readonly<Record<string, number>> = {
  US: -6,
  CA: -5,
  MX: -6,
  BR: -3,
  GB: 0,
  DE: 1,
  FR: 1,
  NL: 1,
  ES: 1,
  PL: 1,
  NG: 1,
  IN: 5,
  SG: 8,
  JP: 9,
  AU: 10,
};
const TERRITORY: Readonly<Record<string, 'NA' | 'EMEA' | 'APAC'>> = {
  US: 'NA',
  CA: 'NA',
  MX: 'NA',
  BR: 'NA',
  GB: 'EMEA',
  DE: 'EMEA',
  FR: 'EMEA',
  NL: 'EMEA',
  ES: 'EMEA',
  PL: 'EMEA',
  NG: 'EMEA',
  IN: 'APAC',
  SG: 'APAC',
  JP: 'APAC',
  AU: 'APAC',
};
const INDUSTRIES = [
  'Software',
  'Fintech',
  'E-commerce',
  'Healthcare',
  'Media',
  'Education',
  'Logistics',
  'Gaming',
  'Marketing',
  'Manufacturing',
] as const;
const FREE_MAIL_DOMAINS = [
  'gmail.com',
  'outlook.com',
  'yahoo.com',
  'hotmail.com',
  'proton.me',
  'icloud.com',
] as const;
const NAME_PREFIXES = [
  'Acme', 'Bright', 'Cloud', 'Data', 'Blue', 'Nova', 'Quantum', 'Pixel', 'Iron', 'Swift', 'Atlas', 'Beacon', 'Cobalt',
  'Delta', 'Echo', 'Fable', 'Granite', 'Harbor', 'Indigo', 'Juniper', 'Kite', 'Lumen', 'Maple', 'Nimbus', 'Orbit',
  'Pine', 'Quartz', 'Rocket', 'Summit', 'Tidal', 'Umber', 'Vector', 'Willow', 'Zenith', 'Aurora', 'Birch', 'Cedar',
  'Ember', 'Falcon', 'Glacier',
] as const; // prettier-ignore
const NAME_SUFFIXES = [
  'Labs', 'Works', 'Systems', 'Analytics', 'Cloud', 'Stack', 'Logic', 'Forge', 'Hub', 'Metrics', 'Ops', 'Data',
  'Soft', 'Bits', 'Flow', 'Sense', 'Scale', 'Grid', 'Wave', 'Loop',
] as const; // prettier-ignore
const FIRST_NAMES = [
  'Ava', 'Liam', 'Priya', 'Noah', 'Mei', 'Lucas', 'Sofia', 'Mateo', 'Chloe', 'Arjun', 'Emma', 'Jonas', 'Aisha', 'Hugo',
  'Yuki', 'Ethan', 'Lena', 'Omar', 'Zoe', 'Rafael', 'Inès', 'Tom', 'Nia', 'Felix', 'Sara', 'Kenji', 'Maya', 'Leo',
  'Anna', 'Diego',
] as const; // prettier-ignore
const LAST_NAMES = [
  'Smith', 'Müller', 'Garcia', 'Chen', 'Patel', 'Kim', 'Nguyen', 'Rossi', 'Dubois', 'Jansen', 'Silva', 'Kowalski',
  'Okafor', 'Tanaka', 'Brown', 'Wilson', 'Schmidt', 'Martin', 'Singh', 'Costa', 'Novak', 'Murphy', "O'Brien", 'Larsen',
  'Haddad', 'Fischer', 'Lopez', 'Ivanova', 'Berg', 'Sato',
] as const; // prettier-ignore
const GENERIC_TLDS = ['.io', '.com', '.dev', '.ai', '.co'] as const;
const COUNTRY_TLD: Readonly<Record<string, string>> = {
  DE: '.de',
  GB: '.co.uk',
  FR: '.fr',
  NL: '.nl',
  AU: '.com.au',
};
const LEGAL_SUFFIX: Readonly<Record<string, string>> = {
  US: ', Inc.',
  CA: ', Inc.',
  GB: ' Ltd',
  DE: ' GmbH',
  FR: ' SAS',
  NL: ' B.V.',
  IN: ' Pvt. Ltd.',
  AU: ' Pty Ltd',
};
const INTEGRATIONS = [
  'github',
  'slack',
  'postgres',
  'snowflake',
  's3',
  'segment',
  'stripe',
  'linear',
] as const;
const STEP_TYPES = ['http', 'transform', 'filter', 'delay', 'slack', 'email'] as const;
const API_ENDPOINTS = ['/v1/events', '/v1/batch', '/v1/workflows', '/v1/projects', '/v1/runs'] as const;
const DOC_PATHS = [
  '/docs',
  '/docs/quickstart',
  '/docs/api',
  '/docs/workflows',
  '/docs/sdks/node',
  '/docs/limits',
] as const;
const DASHBOARDS = ['overview', 'usage', 'runs', 'errors'] as const;
const SETTINGS = ['timezone', 'notifications', 'api_limits', 'theme', 'sso'] as const;
const SIGNUP_METHODS = ['email', 'github', 'google'] as const;
const LEAD_SOURCES = ['Organic Search', 'Paid Search', 'Referral', 'Event', 'Outbound'] as const;
const APP_URL = 'https://app.relaystack.dev';
const PAGE_PATHS: Readonly<Record<string, string>> = {
  Home: '/',
  Pricing: '/pricing',
  Billing: '/settings/billing',
};
// Local-time activity by hour: quiet nights, a working-day plateau.
const LOCAL_HOUR_WEIGHTS = [
  1, 0.5, 0.3, 0.3, 0.3, 0.5, 1, 2, 4, 7, 8, 8, 7, 8, 8, 7, 6, 5, 4, 3, 3, 2.5, 2, 1.5,
];
const HOUR_CUMULATIVE: readonly number[] = LOCAL_HOUR_WEIGHTS.map((_, hour) =>
  LOCAL_HOUR_WEIGHTS.slice(0, hour + 1).reduce((sum, weight) => sum + weight, 0),
);
const HOUR_WEIGHT_TOTAL = HOUR_CUMULATIVE[23] ?? 1;

const OWNERS: readonly CrmOwner[] = [
  { ownerId: 'owner-1', name: 'Dana Whitfield', email: 'dana@relaystack.dev', slackUserId: 'U04DANA0001', territory: 'NA', weight: 2, away: false },
  { ownerId: 'owner-2', name: 'Marcus Reyes', email: 'marcus@relaystack.dev', slackUserId: 'U04MARC0002', territory: 'NA', weight: 1, away: false },
  { ownerId: 'owner-3', name: 'Jenna Park', email: 'jenna@relaystack.dev', slackUserId: 'U04JENN0003', territory: 'NA', weight: 1, away: true },
  { ownerId: 'owner-4', name: 'Lars Eriksen', email: 'lars@relaystack.dev', slackUserId: 'U04LARS0004', territory: 'EMEA', weight: 2, away: false },
  { ownerId: 'owner-5', name: 'Amélie Laurent', email: 'amelie@relaystack.dev', slackUserId: 'U04AMEL0005', territory: 'EMEA', weight: 1, away: false },
  { ownerId: 'owner-6', name: 'Tobias "Toby" Kr\u00fcger', email: 'toby@relaystack.dev', slackUserId: 'U04TOBY0006', territory: 'EMEA', weight: 1, away: false },
  { ownerId: 'owner-7', name: 'Ananya Rao', email: 'ananya@relaystack.dev', slackUserId: 'U04ANAN0007', territory: 'APAC', weight: 1, away: false },
  { ownerId: 'owner-8', name: 'Hiro Matsuda', email: 'hiro@relaystack.dev', slackUserId: 'U04HIRO0008', territory: 'APAC', weight: 1, away: false },
]; // prettier-ignore

interface PriceSpec {
  readonly id: string;
  readonly unitAmount: number;
  readonly currency: string;
  readonly interval: 'month' | 'year';
}

// Background activity at scale 1 adds this many events per account on average; see `backgroundScale`.
const PLANNED_EVENTS_PER_ACCOUNT = 38;
const BACKGROUND_EVENTS_PER_ACCOUNT = 116;

// ---------------------------------------------------------------------------------------------------------
// Plans: everything about an account except the background sessions, which are drawn while streaming.

type StepKind = 'track' | 'page' | 'anonPage' | 'identify' | 'group' | 'alias';

interface PlannedStep {
  readonly offset: number;
  readonly user: number;
  readonly kind: StepKind;
  readonly name: string;
  readonly props: Readonly<Record<string, unknown>> | undefined;
}

interface Pending {
  at: number;
  user: number;
  kind: StepKind;
  name: string;
  props: Readonly<Record<string, unknown>> | undefined;
}

interface AccountPlan {
  readonly index: number;
  readonly account: DemoAccount;
  readonly truth: AccountTruth;
  /** Planned steps with absolute times, sorted by time. */
  readonly planned: readonly Pending[];
  readonly stripeEvents: readonly StripeEvent[];
  readonly companies: readonly CrmCompany[];
  readonly context: SegmentContext;
  readonly tzOffsetHours: number;
  // Background activity
  readonly sessionsPerDay: number;
  readonly decayDays: number;
  readonly eventsPerSession: number;
  readonly pricingWeight: number;
  /** Earliest time each funnel step may appear again in the background (Infinity: never). */
  readonly funnelOpenAt: readonly [number, number, number, number];
  readonly apiOpenAt: number;
  /** Calendar days (day numbers since epoch) with no activity at all: non-returners' silence after their first call. */
  readonly silentFromDay: number;
  readonly silentToDay: number;
  readonly paidFrom: number;
  readonly paidUntil: number;
  readonly workflowId: string;
  readonly projectId: string;
}

interface PlanContext {
  readonly seed: number;
  readonly start: number;
  readonly end: number;
  readonly usedDomains: Set<string>;
  readonly blocks: {
    readonly docs: BlockRandomizer;
    readonly dashboard: BlockRandomizer;
    readonly settings: BlockRandomizer;
  };
}

/**
 * Permuted-block randomisation per stratum: within each block of `size` accounts of a stratum exactly `positives`
 * get the flag, so a non-predictor has the same rate among converters and non-converters by construction.
 */
class BlockRandomizer {
  private readonly queues = new Map<string, boolean[]>();

  constructor(
    private readonly random: Random,
    private readonly positives: number,
    private readonly size: number,
  ) {}

  draw(stratum: string): boolean {
    let queue = this.queues.get(stratum);
    if (queue === undefined || queue.length === 0) {
      queue = this.random.shuffle(Array.from({ length: this.size }, (_, i) => i < this.positives));
      this.queues.set(stratum, queue);
    }
    return queue.pop() ?? false;
  }
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function dayOf(at: number): number {
  return Math.floor(at / DAY);
}

function asciiSlug(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
}

const PAD2: readonly string[] = Array.from({ length: 60 }, (_, n) => String(n).padStart(2, '0'));
const PAD3: readonly string[] = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, '0'));
let isoDay = NaN;
let isoDayPrefix = '';

/** `Date#toISOString` for integer ms, ~10x faster: the `YYYY-MM-DDT` prefix is cached per day (events come day by day). */
function iso(time: number): string {
  const at = Math.floor(time);
  const day = Math.floor(at / DAY);
  if (day !== isoDay) {
    isoDay = day;
    isoDayPrefix = new Date(day * DAY).toISOString().slice(0, 11);
  }
  let rest = at - day * DAY;
  const hours = Math.floor(rest / HOUR);
  rest -= hours * HOUR;
  const minutes = Math.floor(rest / MINUTE);
  rest -= minutes * MINUTE;
  const seconds = Math.floor(rest / SECOND);
  rest -= seconds * SECOND;
  return `${isoDayPrefix}${PAD2[hours]}:${PAD2[minutes]}:${PAD2[seconds]}.${PAD3[rest]}Z`;
}

/** A time of day (ms after UTC midnight) following local working hours, kept inside [00:30, 23:00] UTC. */
function timeOfDay(random: Random, tzOffsetHours: number): number {
  const target = random.next() * HOUR_WEIGHT_TOTAL;
  let localHour = 0;
  while (localHour < 23 && target >= (HOUR_CUMULATIVE[localHour] ?? Infinity)) localHour++;
  const utcHour = (((localHour - tzOffsetHours) % 24) + 24) % 24;
  const at = utcHour * HOUR + Math.floor(random.next() * HOUR);
  return Math.min(Math.max(at, 30 * MINUTE), 23 * HOUR);
}

/** Moves a time outside [00:30, 23:00] UTC forward into it (whole ms), so a short sequence starting there stays in its day. */
function workingTime(at: number): number {
  const day = Math.floor(at / DAY) * DAY;
  const sinceMidnight = Math.floor(at) - day;
  if (sinceMidnight < 30 * MINUTE) return day + 30 * MINUTE;
  if (sinceMidnight > 23 * HOUR) return day + DAY + 30 * MINUTE;
  return day + sinceMidnight;
}

function track(
  offset: number,
  user: number,
  event: string,
  props: Readonly<Record<string, unknown>>,
): PlannedStep {
  return { offset, user, kind: 'track', name: event, props };
}

function page(
  offset: number,
  user: number,
  name: string,
  props?: Readonly<Record<string, unknown>>,
): PlannedStep {
  return { offset, user, kind: 'page', name, props };
}

function addMonthsUtc(at: number, months: number): number {
  const date = new Date(at);
  const day = date.getUTCDate();
  date.setUTCDate(1);
  date.setUTCMonth(date.getUTCMonth() + months);
  const lastDay = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0)).getUTCDate();
  date.setUTCDate(Math.min(day, lastDay));
  return date.getTime();
}

function companyName(random: Random, country: string): { name: string; slug: string } {
  const prefix = random.pick(NAME_PREFIXES);
  const suffix = random.pick(NAME_SUFFIXES);
  const base = prefix === suffix ? prefix : `${prefix} ${suffix}`;
  const roll = random.next();
  // A few names exercise CSV quoting: commas (legal suffixes), ampersands and double quotes.
  let name = base;
  if (roll < 0.02) name = `"${prefix}" ${suffix}`;
  else if (roll < 0.06) name = `${prefix} & ${suffix}`;
  else if (roll < 0.4) name = `${base}${LEGAL_SUFFIX[country] ?? ''}`;
  return { name, slug: asciiSlug(`${prefix}${suffix}`) };
}

function uniqueDomain(random: Random, slug: string, country: string, used: Set<string>): string {
  const countryTld = COUNTRY_TLD[country];
  const tld = countryTld !== undefined && random.chance(0.4) ? countryTld : random.pick(GENERIC_TLDS);
  const candidates = [
    `${slug}${tld}`,
    `get${slug}${tld}`,
    `${slug}hq${tld}`,
    `${slug}app${tld}`,
    `${slug}.io`,
  ];
  for (const candidate of candidates) {
    if (!used.has(candidate)) {
      used.add(candidate);
      return candidate;
    }
  }
  for (let n = 2; ; n++) {
    const candidate = `${slug}${n}${tld}`;
    if (!used.has(candidate)) {
      used.add(candidate);
      return candidate;
    }
  }
}

function crmDomainSpelling(random: Random, domain: string): string {
  const roll = random.next();
  if (roll < 0.7) return domain;
  if (roll < 0.82) return `www.${domain}`;
  if (roll < 0.92) return `https://${domain}/`;
  if (roll < 0.96) return `https://www.${domain}/about`;
  return domain.charAt(0).toUpperCase() + domain.slice(1);
}

function priceFor(country: string, interval: 'month' | 'year'): PriceSpec {
  const currency = ['DE', 'FR', 'NL', 'ES'].includes(country) ? 'eur' : country === 'GB' ? 'gbp' : 'usd';
  const monthly = currency === 'eur' ? 2700 : currency === 'gbp' ? 2400 : 2900;
  const unitAmount = interval === 'month' ? monthly : monthly * 10;
  return { id: `price_team_${interval}ly_${currency}`, unitAmount, currency, interval };
}

function planAccount(index: number, ctx: PlanContext): AccountPlan {
  const r = createRandom(mixSeed(ctx.seed, index, STREAM_PLAN));
  const { start, end } = ctx;
  const accountId = `acc_${String(index + 1).padStart(5, '0')}`;

  // --- Firmographics
  const country = r.weighted(COUNTRIES, COUNTRY_WEIGHTS);
  const tz = TZ_OFFSET_HOURS[country] ?? 0;
  const solo = r.chance(0.18);
  const employees = solo ? 1 : Math.min(20_000, Math.max(2, Math.round(r.logNormal(Math.log(18), 1.25))));
  const industry = r.pick(INDUSTRIES);
  const icp = employees >= 10 && ICP_COUNTRIES.has(country);
  const plan: 'free' | 'trial' = r.chance(0.35) ? 'trial' : 'free';
  const intent = r.normal() + (icp ? 0.35 : 0) + (plan === 'trial' ? 0.2 : 0);

  const firstDay = Math.ceil(start / DAY);
  const lastDay = Math.max(firstDay, Math.floor(end / DAY) - 1);
  const signupDay = r.int(firstDay, lastDay);
  const signupAt = Math.max(start, signupDay * DAY + Math.min(Math.max(timeOfDay(r, tz), HOUR), 22 * HOUR));
  const dayStart = (offsetDays: number): number => (signupDay + offsetDays) * DAY;
  const at = (offsetDays: number): number => dayStart(offsetDays) + timeOfDay(r, tz);

  let name: string;
  let domain: string;
  const founderFirst = r.pick(FIRST_NAMES);
  const founderLast = r.pick(LAST_NAMES);
  if (solo) {
    name = r.chance(0.5) ? `${founderFirst}'s workspace` : `${founderFirst} ${founderLast}`;
    domain = r.pick(FREE_MAIL_DOMAINS);
  } else {
    const generated = companyName(r, country);
    name = generated.name;
    domain = uniqueDomain(r, generated.slug, country, ctx.usedDomains);
  }

  // --- API usage and the silence that makes a non-returner (planned first: every later time is shifted out of it)
  const hasApi = r.chance(sigmoid(1.1 + 1.0 * intent));
  const returnsAfterFirstCall = r.chance(sigmoid(0.3 + 1.2 * intent));
  let firstCallAt = Infinity;
  if (hasApi) {
    const offset = r.chance(0.55) ? 0 : 1 + Math.min(20, Math.floor(r.exponential(3)));
    firstCallAt = at(offset);
    if (firstCallAt <= signupAt + 10 * MINUTE) firstCallAt = signupAt + r.int(10, 90) * MINUTE;
  }
  // The return visit is drawn now: a returner whose return would fall after the period is silent too.
  const plannedReturnAt =
    hasApi && returnsAfterFirstCall ? at(dayOf(firstCallAt) - signupDay + r.int(1, 6)) : Infinity;
  const silent = hasApi && !(plannedReturnAt < end);
  const silentFromDay = silent ? dayOf(firstCallAt) + 1 : Infinity;
  const silentToDay = silent ? dayOf(firstCallAt) + 7 : -Infinity;
  const shift = (time: number): number => {
    const day = dayOf(time);
    return day >= silentFromDay && day <= silentToDay ? time + 7 * DAY : time;
  };

  // A sequence never crosses midnight (times come from timeOfDay or workingTime), so the silence check on its
  // start covers all of its steps.
  const planned: Pending[] = [];
  const addSequence = (time: number, steps: readonly PlannedStep[]): void => {
    for (const step of steps) {
      const stepAt = time + step.offset;
      if (stepAt < end) planned.push({ at: stepAt, user: step.user, kind: step.kind, name: step.name, props: step.props }); // prettier-ignore
    }
  };

  // --- Users: the founder at sign-up, teammates invited later
  const teamLambda = 0.2 + 1.1 * sigmoid(1.4 * intent) * Math.min(3, 0.4 + Math.log10(employees));
  const userCount = solo ? (r.chance(0.1) ? 2 : 1) : Math.min(25, employees, 1 + r.poisson(teamLambda));
  const emailOf = (first: string, last: string): string =>
    solo
      ? `${asciiSlug(first)}${asciiSlug(last)}${r.int(1, 999)}@${domain}`
      : `${asciiSlug(first)}.${asciiSlug(last)}@${domain}`;
  const users: DemoUser[] = [];
  const inviteTimes: number[] = [];
  users.push({
    userId: `usr_${r.token(12)}`,
    anonymousId: r.chance(0.4) ? r.uuid() : undefined,
    name: `${founderFirst} ${founderLast}`,
    email: emailOf(founderFirst, founderLast),
    joinedAt: signupAt,
  });
  for (let k = 1; k < userCount; k++) {
    const first = r.pick(FIRST_NAMES);
    const last = r.pick(LAST_NAMES);
    const invitedAt = shift(
      workingTime(signupAt + 30 * MINUTE + r.exponential(8 * DAY * Math.exp(-0.4 * intent))),
    );
    let joinedAt = shift(workingTime(invitedAt + 10 * MINUTE + r.exponential(5 * HOUR)));
    if (joinedAt <= invitedAt) joinedAt = invitedAt + 30 * MINUTE;
    inviteTimes.push(invitedAt);
    users.push({
      userId: `usr_${r.token(12)}`,
      anonymousId: undefined,
      name: `${first} ${last}`,
      email: emailOf(first, last),
      joinedAt,
    });
  }
  // Users in join order: index 0 is always the founder (who joins first).
  const order = users.map((user, i) => ({
    user,
    invitedAt: i === 0 ? signupAt : (inviteTimes[i - 1] ?? signupAt),
  }));
  order.sort((a, b) => a.user.joinedAt - b.user.joinedAt);
  const sortedUsers = order.map((entry) => entry.user);
  const joinedBy = (time: number): number => {
    let count = 0;
    while (count < sortedUsers.length && (sortedUsers[count]?.joinedAt ?? Infinity) < time) count++;
    return Math.max(1, count);
  };
  const someUserAt = (time: number): number => r.int(0, joinedBy(time) - 1);

  // --- CRM linkage (decided before the group call, which may carry `crm_company_id`)
  const companies: CrmCompany[] = [];
  let crmCompanyId: string | undefined;
  let crmJoin: 'trait' | 'domain' | 'none' = 'none';
  const companyIdBase = 5_000_000_000 + (index + 1) * 10;
  if (!solo && r.chance(0.9)) {
    crmCompanyId = String(companyIdBase + r.int(0, 4));
    crmJoin = r.chance(0.4) ? 'trait' : 'domain';
  }

  // --- Sign-up sequence
  const founder = sortedUsers[0] as DemoUser;
  const groupTraits: Record<string, unknown> = { name, plan, created_at: iso(signupAt) };
  groupTraits.domain = domain;
  if (r.chance(0.85)) groupTraits.employees = employees;
  if (r.chance(0.7)) groupTraits.industry = industry;
  groupTraits.country = country;
  if (crmJoin === 'trait') groupTraits.crm_company_id = crmCompanyId;
  const identifyTraits = (user: DemoUser): Record<string, unknown> => ({
    email: user.email,
    name: user.name,
    created_at: iso(user.joinedAt),
  });
  if (founder.anonymousId !== undefined) {
    const browse: PlannedStep[] = [{ offset: 0, user: 0, kind: 'anonPage', name: 'Home', props: undefined }];
    if (r.chance(0.6))
      browse.push({ offset: 2 * MINUTE, user: 0, kind: 'anonPage', name: 'Pricing', props: undefined });
    addSequence(signupAt - r.int(6, 40) * MINUTE, browse);
  }
  const signupSteps: PlannedStep[] = [];
  if (founder.anonymousId !== undefined)
    signupSteps.push({ offset: 0, user: 0, kind: 'alias', name: '', props: undefined });
  signupSteps.push(
    { offset: SECOND, user: 0, kind: 'identify', name: '', props: identifyTraits(founder) },
    { offset: 2 * SECOND, user: 0, kind: 'group', name: '', props: groupTraits },
    track(3 * SECOND, 0, 'Signed Up', { method: r.pick(SIGNUP_METHODS) }),
    page(10 * SECOND, 0, 'Home'),
  );
  addSequence(signupAt, signupSteps);
  for (let k = 1; k < sortedUsers.length; k++) {
    const user = sortedUsers[k] as DemoUser;
    const invitedAt = order[k]?.invitedAt ?? signupAt;
    const inviter = someUserAt(invitedAt - SECOND);
    addSequence(invitedAt, [track(0, inviter, 'Teammate Invited', { invitee_email: user.email, role: r.chance(0.2) ? 'admin' : 'member' })]); // prettier-ignore
    addSequence(user.joinedAt, [
      { offset: 0, user: k, kind: 'identify', name: '', props: identifyTraits(user) },
      { offset: SECOND, user: k, kind: 'group', name: '', props: { name } },
      track(2 * SECOND, k, 'Signed Up', { method: 'invite' }),
      page(8 * SECOND, k, 'Home'),
    ]);
  }
  // A user becomes active with their `Signed Up`, two seconds after joining.
  const activeDeadline = Math.min(signupAt + 30 * DAY, end);
  const activeUsersFirst30d = sortedUsers.filter(
    (user) => user.joinedAt + 2 * SECOND < activeDeadline,
  ).length;
  const teamFlag = activeUsersFirst30d >= 3;

  // --- Workflow funnel: Project Created -> Workflow Created -> Step Added -> Workflow Run
  const projectId = `prj_${r.token(10)}`;
  const workflowId = `wf_${r.token(10)}`;
  let stepDays: number[];
  if (r.chance(sigmoid(-1.4 + 1.5 * intent))) {
    const d1 = r.chance(0.6) ? 0 : r.int(1, 3);
    const d2 = d1 + (r.chance(0.5) ? 0 : r.int(1, 3));
    const d3 = d2 + (r.chance(0.5) ? 0 : r.int(1, 3));
    const d4 = Math.min(12, d3 + (r.chance(0.4) ? 0 : r.int(1, 4)));
    stepDays = [d1, d2, d3, d4].map((d) => Math.min(d, 12));
  } else {
    const reached = r.weighted([0, 1, 2, 3, 4], [0.3, 0.25, 0.2, 0.13, 0.12]);
    stepDays = [];
    let day = r.int(0, 10);
    for (let step = 0; step < reached; step++) {
      // A late fourth step: never before day 15, so never within 14 days of sign-up.
      if (step === 3) day = Math.max(day + 1, 15 + r.int(0, 40));
      stepDays.push(day);
      day += r.int(0, 8);
    }
  }
  const stepTimes = stepDays
    .map((d) => {
      const time = at(d);
      return shift(time <= signupAt + 5 * MINUTE ? signupAt + r.int(5, 55) * MINUTE : time);
    })
    .sort((a, b) => a - b);
  for (let k = 1; k < stepTimes.length; k++) {
    if ((stepTimes[k] ?? 0) <= (stepTimes[k - 1] ?? 0)) stepTimes[k] = (stepTimes[k - 1] ?? 0) + 2 * MINUTE;
  }
  const funnelOpenAt: [number, number, number, number] = [Infinity, Infinity, Infinity, Infinity];
  const funnelEvents: [string, Record<string, unknown>][] = [
    [
      'Project Created',
      { project_id: projectId, template: r.pick(['blank', 'webhook-relay', 'etl', 'alerts']) },
    ],
    ['Workflow Created', { workflow_id: workflowId, project_id: projectId }],
    ['Step Added', { workflow_id: workflowId, step_type: r.pick(STEP_TYPES), step_number: 1 }],
    [
      'Workflow Run',
      { workflow_id: workflowId, status: 'succeeded', steps: 1, duration_ms: r.int(80, 4000) },
    ],
  ];
  stepTimes.forEach((time, step) => {
    const [event, props] = funnelEvents[step] as [string, Record<string, unknown>];
    if (time < end) funnelOpenAt[step] = time;
    addSequence(time, [track(0, someUserAt(time), event, props)]);
  });
  const funnelDoneAt = funnelOpenAt[3];
  const workflowFunnelWithin14d = funnelDoneAt < signupAt + 14 * DAY && funnelDoneAt < end;

  // --- First API call, the return visit and the processed-events volume of the first 30 days
  let returnedAt: number | undefined;
  let eventsProcessedFirst30d = 0;
  let volumeReachedAt: number | undefined;
  if (hasApi) {
    const caller = someUserAt(firstCallAt);
    addSequence(firstCallAt - 2 * MINUTE, [
      track(0, caller, 'API Key Created', { key_id: `key_${r.token(12)}`, environment: r.pick(['development', 'production']) }), // prettier-ignore
      track(2 * MINUTE, caller, 'API Call Made', { endpoint: '/v1/events', method: 'POST', status: 200, duration_ms: r.int(20, 400) }), // prettier-ignore
    ]);
    if (plannedReturnAt < end) {
      const time = plannedReturnAt;
      addSequence(time, [
        page(0, someUserAt(time), 'Home'),
        track(40 * SECOND, someUserAt(time), 'API Call Made', { endpoint: r.pick(API_ENDPOINTS), method: 'GET', status: 200, duration_ms: r.int(20, 400) }), // prettier-ignore
      ]);
      returnedAt = time;
    }
    const wantsVolume = r.chance(!silent ? sigmoid(-0.4 + 1.2 * intent) : sigmoid(-2 + intent));
    const target = wantsVolume
      ? Math.min(60_000, 1000 + Math.round(r.logNormal(Math.log(2000), 1)))
      : Math.round(r.next() ** 1.5 * 980);
    const batches: { time: number; count: number }[] = [];
    let sum = 0;
    const firstCallDayOffset = dayOf(firstCallAt) - signupDay;
    while (batches.length < 240) {
      const count = r.int(10, 500);
      if (!wantsVolume && sum + count > target) break;
      let time =
        batches.length === 0 ? firstCallAt + r.int(1, 10) * MINUTE : shift(at(r.int(firstCallDayOffset, 29)));
      if (time <= firstCallAt) time = firstCallAt + r.int(2, 25) * MINUTE;
      batches.push({ time, count });
      sum += count;
      if (wantsVolume && sum >= target) break;
    }
    batches.sort((a, b) => a.time - b.time);
    const volumeDeadline = Math.min(signupAt + 30 * DAY, end);
    for (const batch of batches) {
      addSequence(batch.time, [
        track(0, someUserAt(batch.time), 'API Call Made', { endpoint: '/v1/batch', method: 'POST', status: 200, duration_ms: r.int(20, 900) }), // prettier-ignore
        track(1500, someUserAt(batch.time), 'Events Processed', { count: batch.count, source: r.chance(0.7) ? 'api' : 'sdk' }), // prettier-ignore
      ]);
      if (batch.time < volumeDeadline) {
        eventsProcessedFirst30d += batch.count;
        if (volumeReachedAt === undefined && eventsProcessedFirst30d >= 1000) volumeReachedAt = batch.time;
      }
    }
  }
  const firstApiCallAt = firstCallAt < end ? firstCallAt : undefined;
  const returnedWithin7dOfFirstCall = firstApiCallAt !== undefined && returnedAt !== undefined;
  const volumeFlag = eventsProcessedFirst30d >= 1000;

  // --- Conversion: driven by the realised behaviour, ICP fit and (a little) intent directly
  const logit =
    -4.4 +
    2.0 * (workflowFunnelWithin14d ? 1 : 0) +
    1.0 * (returnedWithin7dOfFirstCall && volumeFlag ? 1 : 0) +
    0.7 * (teamFlag ? 1 : 0) +
    0.8 * (icp ? 1 : 0) +
    0.3 * intent;
  const converts = r.chance(sigmoid(logit));
  let plannedConversion: number | undefined;
  if (converts) {
    const anchors: number[] = [];
    if (workflowFunnelWithin14d) anchors.push(funnelDoneAt);
    if (volumeReachedAt !== undefined && returnedWithin7dOfFirstCall) anchors.push(volumeReachedAt);
    if (teamFlag) anchors.push(sortedUsers[2]?.joinedAt ?? signupAt);
    const anchor = anchors.length > 0 ? Math.max(...anchors) : signupAt + r.int(2, 40) * DAY;
    // (converted to whole seconds below, like Stripe's `created`)
    const lead = Math.max(DAY, r.logNormal(Math.log(8 * DAY), 0.7));
    const time = Math.min(Math.max(anchor + lead, signupAt + DAY), signupAt + 89 * DAY);
    plannedConversion = Math.floor(workingTime(time) / SECOND) * SECOND;
  }
  const convertedAt =
    plannedConversion !== undefined && plannedConversion < end ? plannedConversion : undefined;

  // --- Non-predictors: same share of first-30-day users among converters and non-converters (see BlockRandomizer)
  const stratum = `${signupAt + 90 * DAY <= end}|${convertedAt !== undefined}`;
  const planHabit = (viewer: boolean, ratePerDay: number, make: (user: number) => PlannedStep): void => {
    const times: number[] = [];
    if (viewer) {
      const early = 1 + r.poisson(ratePerDay * 30);
      for (let i = 0; i < early; i++) {
        let time = shift(at(r.int(0, 29)));
        if (time <= signupAt + MINUTE) time = signupAt + r.int(2, 58) * MINUTE;
        if (time >= signupAt + 30 * DAY) time = signupAt + r.int(2, 58) * MINUTE; // day 0 is never silent
        times.push(time);
      }
    }
    const late = r.chance(viewer ? 0.7 : 0.35) ? r.poisson(ratePerDay * 45) : 0;
    // From day 31: day 30 can still be inside the first 30 x 24 h when sign-up was late in its day.
    for (let i = 0; i < late; i++) times.push(shift(at(r.int(31, 150))));
    for (const time of times) addSequence(time, [make(someUserAt(time))]);
  };
  planHabit(ctx.blocks.docs.draw(stratum), r.exponential(0.08), (user) =>
    page(0, user, 'Docs', { path: r.pick(DOC_PATHS) }),
  );
  planHabit(ctx.blocks.dashboard.draw(stratum), r.exponential(0.2), (user) =>
    track(0, user, 'Dashboard Viewed', { dashboard: r.pick(DASHBOARDS) }),
  );
  planHabit(ctx.blocks.settings.draw(stratum), r.exponential(0.03), (user) =>
    track(0, user, 'Settings Updated', { setting: r.pick(SETTINGS) }),
  );

  // --- Billing: Stripe customer, subscriptions and invoices
  const stripeEvents: StripeEvent[] = [];
  const customerId = `cus_${r.token(14)}`;
  let stripeCustomerId: string | undefined;
  const metadataMode = r.weighted(['at-creation', 'later', 'never'], [85, 5, 10]);
  const emit = (
    time: number,
    type: string,
    object: Record<string, unknown>,
    previous?: Record<string, unknown>,
  ): void => {
    if (time >= end) return;
    const event: StripeEvent = {
      id: `evt_${r.token(24)}`,
      object: 'event',
      api_version: '2024-06-20',
      created: Math.floor(time / SECOND),
      livemode: false,
      pending_webhooks: r.int(0, 1),
      request: { id: r.chance(0.5) ? `req_${r.token(14)}` : null, idempotency_key: null },
      type,
      data: previous === undefined ? { object } : { object, previous_attributes: previous },
    };
    stripeEvents.push(event);
  };
  const customerObject = (time: number, withMetadata: boolean): Record<string, unknown> => ({
    id: customerId,
    object: 'customer',
    created: Math.floor(time / SECOND),
    email: founder.email,
    name,
    currency: null,
    delinquent: false,
    livemode: false,
    metadata: withMetadata ? { account_id: accountId } : {},
  });
  let customerCreatedAt: number | undefined;
  const ensureCustomer = (time: number): void => {
    if (customerCreatedAt !== undefined || time >= end) return;
    customerCreatedAt = time;
    stripeCustomerId = customerId;
    emit(time, 'customer.created', customerObject(time, metadataMode === 'at-creation'));
    if (metadataMode === 'later') {
      const updatedAt = time + r.int(1, 20) * DAY;
      emit(updatedAt, 'customer.updated', customerObject(time, true), { metadata: {} });
    }
  };
  interface SubscriptionState {
    id: string;
    itemId: string;
    price: PriceSpec;
    quantity: number;
    status: string;
    created: number;
    periodStart: number;
    periodEnd: number;
    trialStart: number | null;
    trialEnd: number | null;
    cancelAtPeriodEnd: boolean;
    canceledAt: number | null;
    endedAt: number | null;
  }
  const subscriptionObject = (sub: SubscriptionState): Record<string, unknown> => ({
    id: sub.id,
    object: 'subscription',
    customer: customerId,
    status: sub.status,
    created: Math.floor(sub.created / SECOND),
    start_date: Math.floor(sub.created / SECOND),
    current_period_start: Math.floor(sub.periodStart / SECOND),
    current_period_end: Math.floor(sub.periodEnd / SECOND),
    trial_start: sub.trialStart === null ? null : Math.floor(sub.trialStart / SECOND),
    trial_end: sub.trialEnd === null ? null : Math.floor(sub.trialEnd / SECOND),
    cancel_at_period_end: sub.cancelAtPeriodEnd,
    canceled_at: sub.canceledAt === null ? null : Math.floor(sub.canceledAt / SECOND),
    ended_at: sub.endedAt === null ? null : Math.floor(sub.endedAt / SECOND),
    currency: sub.price.currency,
    quantity: sub.quantity,
    livemode: false,
    metadata: metadataMode === 'never' ? {} : { account_id: accountId },
    items: {
      object: 'list',
      data: [
        {
          id: sub.itemId,
          object: 'subscription_item',
          quantity: sub.quantity,
          price: {
            id: sub.price.id,
            object: 'price',
            active: true,
            currency: sub.price.currency,
            unit_amount: sub.price.unitAmount,
            product: 'prod_RelayTeam01',
            nickname: sub.price.interval === 'month' ? 'Team monthly' : 'Team annual',
            type: 'recurring',
            recurring: { interval: sub.price.interval, interval_count: 1, usage_type: 'licensed' },
          },
        },
      ],
    },
  });
  const paidInvoices: { id: string; time: number; amount: number; currency: string }[] = [];
  const invoice = (sub: SubscriptionState, time: number, amount: number, reason: string): void => {
    const id = `in_${r.token(24)}`;
    emit(time, 'invoice.paid', {
      id,
      object: 'invoice',
      customer: customerId,
      customer_email: founder.email,
      subscription: sub.id,
      status: 'paid',
      paid: true,
      billing_reason: reason,
      currency: sub.price.currency,
      amount_due: amount,
      amount_paid: amount,
      amount_remaining: 0,
      created: Math.floor(time / SECOND),
      period_start: Math.floor(sub.periodStart / SECOND),
      period_end: Math.floor(sub.periodEnd / SECOND),
      status_transitions: { paid_at: Math.floor(time / SECOND) },
      livemode: false,
    });
    if (amount > 0 && time < end) paidInvoices.push({ id, time, amount, currency: sub.price.currency });
  };
  const newSubscription = (time: number, price: PriceSpec, quantity: number): SubscriptionState => ({
    id: `sub_${r.token(24)}`,
    itemId: `si_${r.token(14)}`,
    price,
    quantity,
    status: 'active',
    created: time,
    periodStart: time,
    periodEnd: addMonthsUtc(time, price.interval === 'month' ? 1 : 12),
    trialStart: null,
    trialEnd: null,
    cancelAtPeriodEnd: false,
    canceledAt: null,
    endedAt: null,
  });

  const trialEnd = signupAt + 14 * DAY;
  let trial: SubscriptionState | undefined;
  if (plan === 'trial') {
    const time = signupAt + 90 * SECOND;
    ensureCustomer(time - 30 * SECOND);
    const price = priceFor(country, 'month');
    trial = {
      ...newSubscription(time, price, 1),
      status: 'trialing',
      trialStart: time,
      trialEnd,
      periodEnd: trialEnd,
    };
    emit(time, 'customer.subscription.created', subscriptionObject(trial));
    invoice(trial, time, 0, 'subscription_create'); // Stripe's $0 trial invoice: paid, but not a conversion
  }
  let churnedAt: number | undefined;
  let paidUntil = Infinity;
  if (plannedConversion !== undefined) {
    const conversion = plannedConversion;
    const interval: 'month' | 'year' = r.chance(0.2) ? 'year' : 'month';
    const price = priceFor(country, interval);
    const quantity = joinedBy(conversion);
    let sub: SubscriptionState;
    if (trial !== undefined && conversion < trialEnd) {
      const previous = { status: 'trialing', trial_end: Math.floor(trialEnd / SECOND) };
      sub = { ...trial, price, quantity, status: 'active', trialEnd: conversion, periodStart: conversion };
      sub.periodEnd = addMonthsUtc(conversion, interval === 'month' ? 1 : 12);
      emit(conversion, 'customer.subscription.updated', subscriptionObject(sub), previous);
      invoice(sub, conversion, price.unitAmount * quantity, 'subscription_update');
    } else {
      if (trial !== undefined) {
        const ended = { ...trial, status: 'canceled', canceledAt: trialEnd, endedAt: trialEnd };
        emit(trialEnd, 'customer.subscription.deleted', subscriptionObject(ended));
      }
      ensureCustomer(conversion - 2 * MINUTE);
      sub = newSubscription(conversion, price, quantity);
      emit(conversion, 'customer.subscription.created', subscriptionObject(sub));
      invoice(sub, conversion, price.unitAmount * quantity, 'subscription_create');
    }
    const cancelRequestAt = r.chance(0.25)
      ? conversion + Math.max(15 * DAY, r.exponential(60 * DAY))
      : Infinity;
    while (sub.periodEnd < end) {
      if (cancelRequestAt <= sub.periodEnd) {
        const requested = { ...sub, cancelAtPeriodEnd: true, canceledAt: cancelRequestAt };
        emit(cancelRequestAt, 'customer.subscription.updated', subscriptionObject(requested), {
          cancel_at_period_end: false,
        });
        const ended = { ...requested, status: 'canceled', endedAt: sub.periodEnd };
        emit(sub.periodEnd, 'customer.subscription.deleted', subscriptionObject(ended));
        churnedAt = sub.periodEnd;
        paidUntil = sub.periodEnd;
        break;
      }
      const previous = {
        current_period_start: Math.floor(sub.periodStart / SECOND),
        current_period_end: Math.floor(sub.periodEnd / SECOND),
      };
      sub = { ...sub, periodStart: sub.periodEnd, periodEnd: addMonthsUtc(sub.periodEnd, interval === 'month' ? 1 : 12) }; // prettier-ignore
      emit(sub.periodStart, 'customer.subscription.updated', subscriptionObject(sub), previous);
      invoice(sub, sub.periodStart + 45 * MINUTE, price.unitAmount * sub.quantity, 'subscription_cycle');
    }
    if (cancelRequestAt < end && churnedAt === undefined && cancelRequestAt > sub.periodStart) {
      const requested = { ...sub, cancelAtPeriodEnd: true, canceledAt: cancelRequestAt };
      emit(cancelRequestAt, 'customer.subscription.updated', subscriptionObject(requested), {
        cancel_at_period_end: false,
      });
    }
  } else if (trial !== undefined) {
    const ended = { ...trial, status: 'canceled', canceledAt: trialEnd, endedAt: trialEnd };
    emit(trialEnd, 'customer.subscription.deleted', subscriptionObject(ended));
  } else if (r.chance(0.08)) {
    // Free accounts that looked at billing and left a card-less customer behind.
    const time = shift(at(r.int(1, 60)));
    if (time < end) {
      ensureCustomer(time + MINUTE);
      addSequence(time, [page(0, someUserAt(time), 'Billing')]);
    }
  }

  // --- Product events around payment: pricing/billing pages, the plan change, invoices downloaded (the leakage trap)
  if (convertedAt !== undefined) {
    const time = convertedAt - 6 * MINUTE;
    const payer = someUserAt(time);
    addSequence(shift(time), [page(0, payer, 'Pricing'), page(3 * MINUTE, payer, 'Billing')]);
    addSequence(shift(convertedAt + 90 * SECOND), [
      { offset: 0, user: payer, kind: 'group', name: '', props: { plan: 'team', paying: true } },
    ]);
    for (const paid of paidInvoices) {
      if (!r.chance(0.35)) continue;
      const time = shift(workingTime(paid.time + HOUR + r.exponential(3 * DAY)));
      addSequence(time, [track(0, someUserAt(time), 'Invoice Downloaded', { invoice_id: paid.id, amount: paid.amount, currency: paid.currency })]); // prettier-ignore
    }
    if (churnedAt !== undefined) {
      addSequence(shift(churnedAt + 5 * MINUTE), [
        { offset: 0, user: 0, kind: 'group', name: '', props: { plan: 'free', paying: false } },
      ]);
    }
  }

  // --- CRM company rows
  if (crmCompanyId !== undefined) {
    const outbound = r.chance(0.12);
    const leadSource = outbound ? 'Outbound' : r.chance(0.6) ? 'Product Signup' : r.pick(LEAD_SOURCES);
    const createdAt = outbound ? signupAt - r.int(10, 200) * DAY : signupAt + r.int(5, 60) * MINUTE;
    const territoryOwners = OWNERS.filter((owner) => owner.territory === TERRITORY[country]);
    const isMql = r.chance(icp ? 0.3 : 0.14);
    const ownerId =
      r.chance(isMql || outbound ? 0.85 : 0.55) && territoryOwners.length > 0
        ? r.weighted(
            territoryOwners,
            territoryOwners.map((owner) => owner.weight),
          ).ownerId
        : undefined;
    let mqlAt: number | undefined;
    let stage = r.chance(0.5) ? 'lead' : 'subscriber';
    let updatedAt = Math.max(createdAt, signupAt) + r.int(1, 48) * HOUR;
    if (isMql) {
      const time = Math.max(createdAt, signupAt) + Math.floor(r.exponential(10 * DAY)) + HOUR;
      if (time < end) {
        mqlAt = time;
        stage = r.chance(0.3) ? 'salesqualifiedlead' : 'marketingqualifiedlead';
        updatedAt = time + r.int(1, 120) * MINUTE;
      }
    }
    if (convertedAt !== undefined) {
      stage = 'customer';
      updatedAt = convertedAt + r.int(10, 600) * MINUTE; // CRM learns about payment from a later sync
    }
    updatedAt = Math.min(Math.max(updatedAt, mqlAt ?? 0), end - SECOND);
    const crmEmployees = r.chance(0.15) ? Math.max(1, Math.round(employees * r.float(0.6, 1.6))) : employees;
    const crmDomain = crmDomainSpelling(r, domain);
    companies.push({
      companyId: crmCompanyId,
      name,
      domain: crmDomain,
      employees: r.chance(0.93) ? crmEmployees : undefined,
      industry,
      country,
      ownerId,
      lifecycleStage: stage,
      leadSource,
      mqlAt,
      createdAt,
      updatedAt: Math.max(updatedAt, createdAt),
    });
    // A few duplicate rows on the same domain: ambiguous for a domain join, harmless for a trait join.
    if (r.chance(0.04)) {
      const duplicateCreated = createdAt + r.int(1, 90) * DAY;
      if (duplicateCreated < end) {
        companies.push({
          companyId: String(companyIdBase + 5 + r.int(0, 4)),
          name: r.chance(0.5) ? name.toUpperCase() : `${name} (old)`,
          domain: crmDomainSpelling(r, domain),
          employees: undefined,
          industry,
          country,
          ownerId: r.chance(0.5) ? r.pick(OWNERS).ownerId : undefined,
          lifecycleStage: 'lead',
          leadSource: r.pick(LEAD_SOURCES),
          mqlAt: undefined,
          createdAt: duplicateCreated,
          updatedAt: duplicateCreated + r.int(1, 48) * HOUR,
        });
      }
    }
  } else if (solo && r.chance(0.03)) {
    // A rep logged the founder as a "company" on their free-mail domain: must never match by domain.
    companies.push({
      companyId: String(companyIdBase + 9),
      name: founder.name,
      domain,
      employees: 1,
      industry,
      country,
      ownerId: undefined,
      lifecycleStage: 'lead',
      leadSource: 'Event',
      mqlAt: undefined,
      createdAt: signupAt + DAY,
      updatedAt: signupAt + 2 * DAY,
    });
  }

  // --- Background activity parameters
  const sessionsPerDay = r.logNormal(Math.log(0.9) + 0.45 * intent, 0.9);
  const decayDays = 9 * Math.exp(0.4 * intent);
  const eventsPerSession = r.logNormal(Math.log(2.5), 0.5);
  const groupContext = r.chance(0.85);

  planned.sort((a, b) => a.at - b.at); // stable: steps of one sequence keep their order
  const account: DemoAccount = {
    accountId,
    name,
    domain,
    freeMail: solo,
    employees,
    industry,
    country,
    plan,
    signupAt,
    users: sortedUsers,
    crmCompanyId,
    crmJoin,
    stripeCustomerId,
  };
  const truth: AccountTruth = {
    accountId,
    signupAt,
    convertedAt,
    churnedAt,
    intent,
    icp,
    workflowFunnelWithin14d,
    firstApiCallAt,
    returnedWithin7dOfFirstCall,
    eventsProcessedFirst30d,
    activeUsersFirst30d,
  };
  return {
    index,
    account,
    truth,
    planned,
    stripeEvents,
    companies,
    context: groupContext ? { groupId: accountId } : {},
    tzOffsetHours: tz,
    sessionsPerDay,
    decayDays,
    eventsPerSession,
    pricingWeight: 0.15 + 0.3 * sigmoid(intent),
    funnelOpenAt,
    apiOpenAt: firstCallAt,
    silentFromDay,
    silentToDay,
    paidFrom: convertedAt ?? Infinity,
    paidUntil,
    workflowId,
    projectId,
  };
}

function planProspects(ctx: PlanContext, accounts: number): CrmCompany[] {
  // CRM companies with no product account: outbound prospects and event leads.
  const r = createRandom(mixSeed(ctx.seed, STREAM_PROSPECTS));
  const rows: CrmCompany[] = [];
  const count = Math.round(accounts * 0.12);
  for (let i = 0; i < count; i++) {
    const country = r.weighted(COUNTRIES, COUNTRY_WEIGHTS);
    const { name, slug } = companyName(r, country);
    const domain = uniqueDomain(r, slug, country, ctx.usedDomains);
    const createdAt = ctx.start - r.int(0, 365) * DAY + r.int(0, DAY - 1);
    const territoryOwners = OWNERS.filter((owner) => owner.territory === TERRITORY[country]);
    rows.push({
      companyId: String(9_000_000_000 + (i + 1) * 10),
      name,
      domain: crmDomainSpelling(r, domain),
      employees: Math.max(2, Math.round(r.logNormal(Math.log(40), 1.2))),
      industry: r.pick(INDUSTRIES),
      country,
      ownerId: r.chance(0.7) ? r.pick(territoryOwners).ownerId : undefined,
      lifecycleStage: r.pick(['subscriber', 'lead', 'opportunity']),
      leadSource: r.pick(LEAD_SOURCES),
      mqlAt: undefined,
      createdAt,
      updatedAt: Math.min(createdAt + r.int(1, 200) * DAY, ctx.end - SECOND),
    });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------
// Streaming the product events of one account

const EMPTY_CONTEXT: SegmentContext = Object.freeze({});
const BACKGROUND_TRACK = [
  'API Call Made',
  'Events Processed',
  'Workflow Run',
  'Step Added',
  'Workflow Created',
  'Project Created',
  'Integration Connected',
  'API Key Created',
] as const;

function materialize(pending: Pending, plan: AccountPlan, random: Random): SegmentMessage {
  const messageId = random.uuid();
  const timestamp = iso(pending.at);
  const user = plan.account.users[pending.user] ?? (plan.account.users[0] as DemoUser);
  const context = plan.context;
  switch (pending.kind) {
    case 'track':
      return { type: 'track', messageId, timestamp, userId: user.userId, event: pending.name, properties: pending.props ?? {}, context }; // prettier-ignore
    case 'page':
      return {
        type: 'page',
        messageId,
        timestamp,
        userId: user.userId,
        name: pending.name,
        properties: pageProperties(pending.name, pending.props),
        context,
      };
    case 'anonPage':
      return {
        type: 'page',
        messageId,
        timestamp,
        anonymousId: user.anonymousId ?? user.userId,
        name: pending.name,
        properties: pageProperties(pending.name, pending.props),
        context: EMPTY_CONTEXT,
      };
    case 'identify':
      return user.anonymousId !== undefined && pending.user === 0
        ? { type: 'identify', messageId, timestamp, userId: user.userId, anonymousId: user.anonymousId, traits: pending.props ?? {}, context } // prettier-ignore
        : {
            type: 'identify',
            messageId,
            timestamp,
            userId: user.userId,
            traits: pending.props ?? {},
            context,
          };
    case 'group':
      return {
        type: 'group',
        messageId,
        timestamp,
        userId: user.userId,
        groupId: plan.account.accountId,
        traits: pending.props ?? {},
        context: { groupId: plan.account.accountId },
      };
    case 'alias':
      return { type: 'alias', messageId, timestamp, userId: user.userId, previousId: user.anonymousId ?? user.userId, context: EMPTY_CONTEXT }; // prettier-ignore
  }
}

function pageProperties(
  name: string,
  props: Readonly<Record<string, unknown>> | undefined,
): Record<string, unknown> {
  const path = typeof props?.path === 'string' ? props.path : (PAGE_PATHS[name] ?? '/');
  return { path, url: `${APP_URL}${path}`, title: `${name} · Relaystack` };
}

function* accountMessages(
  plan: AccountPlan,
  seed: number,
  end: number,
  scale: number,
): Generator<SegmentMessage> {
  const random = createRandom(mixSeed(seed, plan.index, STREAM_EVENTS));
  const { signupAt } = plan.account;
  const users = plan.account.users;
  const planned = plan.planned;
  const [projectOpenAt, workflowOpenAt, stepOpenAt, runOpenAt] = plan.funnelOpenAt;
  const volumeOpenAt = signupAt + 30 * DAY;
  const workflowIds = [plan.workflowId];
  const projectIds = [plan.projectId];
  const buffer: Pending[] = [];
  const weights = new Array<number>(BACKGROUND_TRACK.length + 3).fill(0);
  let next = 0;
  let joined = 1;
  const firstDay = dayOf(planned[0]?.at ?? signupAt);
  const endDay = Math.ceil(end / DAY);
  for (let day = firstDay; day < endDay; day++) {
    const dayEnd = (day + 1) * DAY;
    while (next < planned.length && (planned[next] as Pending).at < dayEnd)
      buffer.push(planned[next++] as Pending);
    if (day >= dayOf(signupAt) && (day < plan.silentFromDay || day > plan.silentToDay)) {
      const dayStart = day * DAY;
      const age = (dayStart - signupAt) / DAY;
      const paid = dayStart >= plan.paidFrom && dayStart < plan.paidUntil;
      const churned = dayStart >= plan.paidUntil;
      const level = paid
        ? plan.sessionsPerDay * 0.5 + 0.3
        : churned
          ? 0.02
          : plan.sessionsPerDay * (Math.exp(-Math.max(0, age) / plan.decayDays) + 0.03);
      const sessions = random.poisson(level * scale);
      for (let s = 0; s < sessions; s++) {
        let at = dayStart + timeOfDay(random, plan.tzOffsetHours);
        if (day === dayOf(signupAt) && at <= signupAt + MINUTE) at = signupAt + random.int(1, 50) * MINUTE;
        if (at >= end) continue;
        while (joined < users.length && (users[joined] as DemoUser).joinedAt < at) joined++;
        const user = random.chance(0.5) ? 0 : random.int(0, joined - 1);
        // What this account can do in the background at this time; planted first occurrences stay planted.
        weights[0] = at > plan.apiOpenAt ? 6 : 0;
        weights[1] = at > plan.apiOpenAt && at > volumeOpenAt ? 3 : 0;
        weights[2] = at > runOpenAt ? 3 : 0;
        weights[3] = at > stepOpenAt ? 1 : 0;
        weights[4] = at > workflowOpenAt ? 0.4 : 0;
        weights[5] = at > projectOpenAt ? 0.2 : 0;
        weights[6] = at > projectOpenAt ? 0.1 : 0;
        weights[7] = at > plan.apiOpenAt ? 0.08 : 0;
        weights[8] = 1.2; // Home
        weights[9] = paid ? 0.05 : plan.pricingWeight; // Pricing
        weights[10] = paid ? 0.3 : 0; // Billing
        let total = 0;
        for (const weight of weights) total += weight;
        const count = 1 + random.poisson(plan.eventsPerSession);
        for (let e = 0; e < count; e++) {
          if (e > 0) at += SECOND + Math.floor(random.exponential(40 * SECOND));
          if (at >= dayEnd || at >= end) break;
          let target = random.next() * total;
          let choice = 0;
          while (choice < weights.length - 1 && target >= (weights[choice] ?? 0))
            target -= weights[choice++] ?? 0;
          buffer.push(backgroundEvent(choice, at, user, random, workflowIds, projectIds));
        }
      }
    }
    if (buffer.length === 0) continue;
    buffer.sort((a, b) => a.at - b.at);
    for (const pending of buffer) yield materialize(pending, plan, random);
    buffer.length = 0;
  }
}

function backgroundEvent(
  choice: number,
  at: number,
  user: number,
  random: Random,
  workflowIds: string[],
  projectIds: string[],
): Pending {
  switch (choice) {
    case 0:
      return { at, user, kind: 'track', name: 'API Call Made', props: { endpoint: random.pick(API_ENDPOINTS), method: random.chance(0.6) ? 'POST' : 'GET', status: random.chance(0.95) ? 200 : random.pick([400, 401, 429, 500]), duration_ms: random.int(15, 900) } }; // prettier-ignore
    case 1:
      return { at, user, kind: 'track', name: 'Events Processed', props: { count: random.int(10, 500), source: random.chance(0.7) ? 'api' : 'sdk' } }; // prettier-ignore
    case 2:
      return { at, user, kind: 'track', name: 'Workflow Run', props: { workflow_id: random.pick(workflowIds), status: random.chance(0.9) ? 'succeeded' : 'failed', steps: random.int(1, 8), duration_ms: random.int(80, 20_000) } }; // prettier-ignore
    case 3:
      return { at, user, kind: 'track', name: 'Step Added', props: { workflow_id: random.pick(workflowIds), step_type: random.pick(STEP_TYPES), step_number: random.int(2, 9) } }; // prettier-ignore
    case 4: {
      const workflowId = `wf_${random.token(10)}`;
      workflowIds.push(workflowId);
      return { at, user, kind: 'track', name: 'Workflow Created', props: { workflow_id: workflowId, project_id: random.pick(projectIds) } }; // prettier-ignore
    }
    case 5: {
      const projectId = `prj_${random.token(10)}`;
      projectIds.push(projectId);
      return { at, user, kind: 'track', name: 'Project Created', props: { project_id: projectId, template: 'blank' } }; // prettier-ignore
    }
    case 6:
      return { at, user, kind: 'track', name: 'Integration Connected', props: { integration: random.pick(INTEGRATIONS) } }; // prettier-ignore
    case 7:
      return { at, user, kind: 'track', name: 'API Key Created', props: { key_id: `key_${random.token(12)}`, environment: 'production' } }; // prettier-ignore
    case 8:
      return { at, user, kind: 'page', name: 'Home', props: undefined };
    case 9:
      return { at, user, kind: 'page', name: 'Pricing', props: undefined };
    default:
      return { at, user, kind: 'page', name: 'Billing', props: undefined };
  }
}

// ---------------------------------------------------------------------------------------------------------
// The world

function positiveInteger(value: number, field: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(
      `generateDemoWorld: options.${field}: expected a positive integer, got ${String(value)}`,
    );
  }
  return value;
}

/** Generates a deterministic demo world for a seed (no clock, no Math.random); product events are streamed on demand. */
export function generateDemoWorld(options: DemoWorldOptions = {}): DemoWorld {
  const seed = options.seed ?? 42;
  if (!Number.isFinite(seed))
    throw new RangeError(`generateDemoWorld: options.seed: expected a number, got ${seed}`);
  const accountCount = positiveInteger(options.accounts ?? 3000, 'accounts');
  const days = positiveInteger(options.days ?? 180, 'days');
  const start = options.start ?? DEFAULT_DEMO_START;
  if (!Number.isFinite(start)) {
    throw new RangeError(
      `generateDemoWorld: options.start: expected epoch milliseconds, got ${String(start)}`,
    );
  }
  const end = start + days * DAY;
  const scale =
    options.eventsPerAccount === undefined
      ? 1
      : Math.max(
          0.02,
          (options.eventsPerAccount - PLANNED_EVENTS_PER_ACCOUNT) / BACKGROUND_EVENTS_PER_ACCOUNT,
        );

  const blockRandom = createRandom(mixSeed(seed, STREAM_BLOCKS));
  const ctx: PlanContext = {
    seed,
    start,
    end,
    usedDomains: new Set(),
    blocks: {
      docs: new BlockRandomizer(blockRandom, 2, 4),
      dashboard: new BlockRandomizer(blockRandom, 3, 5),
      settings: new BlockRandomizer(blockRandom, 2, 5),
    },
  };
  const plans: AccountPlan[] = [];
  for (let i = 0; i < accountCount; i++) plans.push(planAccount(i, ctx));
  const byId = new Map(plans.map((plan) => [plan.account.accountId, plan]));
  const companies = [...plans.flatMap((plan) => plan.companies), ...planProspects(ctx, accountCount)];
  // Stable sort: events of one account created in the same second keep their causal order.
  const stripeEvents = plans.flatMap((plan) => plan.stripeEvents).sort((a, b) => a.created - b.created);

  function* events(): Generator<SegmentMessage> {
    for (const plan of plans) yield* accountMessages(plan, seed, end, scale);
  }

  function accountEvents(accountId: string): Generator<SegmentMessage> {
    const plan = byId.get(accountId);
    if (plan === undefined)
      throw new RangeError(`DemoWorld.accountEvents: unknown account id "${accountId}"`);
    return accountMessages(plan, seed, end, scale);
  }

  function eventsByTime(): Generator<SegmentMessage> {
    return mergeByTimestamp(plans.map((plan) => accountMessages(plan, seed, end, scale)));
  }

  return {
    seed,
    start,
    end,
    accounts: plans.map((plan) => plan.account),
    truth: plans.map((plan) => plan.truth),
    companies,
    owners: OWNERS,
    stripeEvents,
    events,
    accountEvents,
    eventsByTime,
  };
}

/** Streams a demo world's product events account by account; the benchmark entry point (`eventsPerAccount` sets the volume). */
export function generateDemoEvents(options: DemoWorldOptions = {}): Generator<SegmentMessage> {
  return generateDemoWorld(options).events();
}

interface HeapEntry {
  message: SegmentMessage;
  readonly source: Iterator<SegmentMessage>;
  readonly rank: number;
}

function before(a: HeapEntry, b: HeapEntry): boolean {
  // ISO-8601 timestamps of one format sort lexicographically in time order; ties go to the lower account.
  return (
    a.message.timestamp < b.message.timestamp ||
    (a.message.timestamp === b.message.timestamp && a.rank < b.rank)
  );
}

/** Merges per-source time-ordered message streams into one stream ordered by timestamp (a binary-heap k-way merge). */
export function* mergeByTimestamp(sources: readonly Iterator<SegmentMessage>[]): Generator<SegmentMessage> {
  const heap: HeapEntry[] = [];
  const siftDown = (from: number): void => {
    let i = from;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && before(heap[left] as HeapEntry, heap[smallest] as HeapEntry)) smallest = left;
      if (right < heap.length && before(heap[right] as HeapEntry, heap[smallest] as HeapEntry))
        smallest = right;
      if (smallest === i) return;
      const held = heap[i] as HeapEntry;
      heap[i] = heap[smallest] as HeapEntry;
      heap[smallest] = held;
      i = smallest;
    }
  };
  sources.forEach((source, rank) => {
    const first = source.next();
    if (first.done !== true) heap.push({ message: first.value, source, rank });
  });
  for (let i = Math.floor(heap.length / 2) - 1; i >= 0; i--) siftDown(i);
  while (heap.length > 0) {
    const top = heap[0] as HeapEntry;
    yield top.message;
    const following = top.source.next();
    if (following.done === true) {
      const last = heap.pop() as HeapEntry;
      if (heap.length > 0) heap[0] = last;
    } else {
      top.message = following.value;
    }
    siftDown(0);
  }
}
