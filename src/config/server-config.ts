/**
 * Configuration of `pql serve`: defaults, then `pql.yaml`, then environment variables, then command-line
 * flags (later wins). Secrets that nobody configured are generated once and kept in the data directory, so a
 * restart keeps the same admin token and write key.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../core/definitions/duration.js';

/** Everything the ingest server needs to run. */
export interface ServerConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  /** Definition file or folder; undefined means the CLI default (./definitions or the examples). */
  readonly definitions: string | undefined;
  /** Keys that may send events (Segment write keys, PostHog project api keys). Never readers. */
  readonly writeKeys: readonly string[];
  /** Bearer token of the read API. */
  readonly adminToken: string;
  /** How late (event time) an event may arrive and still count as on time; the tick runs at now minus this. */
  readonly allowedLatenessMs: number;
  /** Milliseconds between ticks; 0 disables the timer (tests). */
  readonly tickIntervalMs: number;
  /** Largest request body, raw or decoded (gzip); above it the answer is 413 before anything is parsed. */
  readonly maxBodyBytes: number;
  /** Largest Segment batch (Segment: 500 KB); above it the answer is 400. */
  readonly maxBatchBytes: number;
  /** Largest single message (Segment: 32 KB); above it the message is rejected with a reason. */
  readonly maxMessageBytes: number;
  /** Deepest nesting of objects and arrays accepted in a message. */
  readonly maxDepth: number;
  /** How far after receipt an event time may lie (Segment: 24 h). */
  readonly maxFutureMs: number;
  /** Events waiting for a commit beyond which new requests get 503 (the store cannot keep up). */
  readonly maxQueuedEvents: number;
  /** Events per second per write key (sustained; bursts up to one second's worth); 0 = unlimited. */
  readonly rateLimitPerKey: number;
  /** PostHog group type whose key is the account (`$groups[type]`); undefined = the first group given. */
  readonly posthogGroupType: string | undefined;
  /** SQLite synchronous mode. */
  readonly synchronous: 'NORMAL' | 'FULL';
  /** `PQL_STORE` / `store:`: undefined or 'sqlite' (the file in dataDir), or a postgres:// URL. */
  readonly store: string | undefined;
  /** `PQL_STRIPE_WEBHOOK_SECRET` / `stripeWebhookSecret:`: the Stripe endpoint secret(s), comma-separated during a rotation; unset turns `/webhooks/stripe` off. */
  readonly stripeWebhookSecret: string | undefined;
}

/** Which secrets were generated on this start (the CLI prints them once). */
export interface GeneratedSecrets {
  readonly adminToken: boolean;
  readonly writeKey: boolean;
}

/** A bad configuration value: names the file or variable, the field, what was expected and what arrived. */
export class ServerConfigError extends Error {
  override readonly name = 'ServerConfigError';
  constructor(
    readonly source: string,
    readonly field: string,
    message: string,
  ) {
    super(field === '' ? `${source}: ${message}` : `${source}: ${field}: ${message}`);
  }
}

/** Command-line flags of `pql serve` (all optional). */
export interface ServeFlags {
  readonly port?: string;
  readonly host?: string;
  readonly dataDir?: string;
  readonly definitions?: string;
  readonly config?: string;
  /** `all` (default: one process does everything), `ingest` (publish to JetStream) or `worker` (scale-out). */
  readonly role?: string;
}

export const DEFAULT_PORT = 7070;
const SECRETS_FILE = 'secrets.json';

const DEFAULTS: Omit<ServerConfig, 'dataDir' | 'writeKeys' | 'adminToken' | 'definitions'> = {
  port: DEFAULT_PORT,
  host: '0.0.0.0',
  allowedLatenessMs: 3_600_000,
  tickIntervalMs: 1000,
  maxBodyBytes: 4 * 1024 * 1024,
  maxBatchBytes: 500 * 1024,
  maxMessageBytes: 32 * 1024,
  maxDepth: 64,
  maxFutureMs: 86_400_000,
  maxQueuedEvents: 50_000,
  rateLimitPerKey: 0,
  posthogGroupType: undefined,
  synchronous: 'NORMAL',
  store: undefined,
  stripeWebhookSecret: undefined,
};

/**
 * Resolves the server configuration. `env` and `cwd` are injectable for tests. Writes `secrets.json`
 * (mode 0600) into the data directory when it had to generate an admin token or a write key.
 */
export function loadServerConfig(
  flags: ServeFlags = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd = process.cwd(),
): { readonly config: ServerConfig; readonly generated: GeneratedSecrets } {
  const configPath = resolveConfigPath(flags.config, cwd);
  const file = configPath === undefined ? {} : readConfigFile(configPath);
  const fileName = configPath ?? 'pql.yaml';

  const pick = <T>(
    field: string,
    flag: string | undefined,
    envName: string,
    read: (value: unknown, source: string) => T,
  ): T | undefined => {
    if (flag !== undefined) return read(flag, `--${kebab(field)}`);
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv !== '') return read(fromEnv, envName);
    if (field in file) return read(file[field], `${fileName}: ${field}`);
    return undefined;
  };
  const fileOnly = <T>(field: string, read: (value: unknown, source: string) => T): T | undefined =>
    field in file ? read(file[field], `${fileName}: ${field}`) : undefined;

  const port = pick('port', flags.port, 'PQL_PORT', readPort) ?? DEFAULTS.port;
  const host = pick('host', flags.host, 'PQL_HOST', readString) ?? DEFAULTS.host;
  const dataDir = pick('dataDir', flags.dataDir, 'PQL_DATA_DIR', readString) ?? join('.pql', 'data');
  const definitions = pick('definitions', flags.definitions, 'PQL_DEFINITIONS', readString);
  let writeKeys = pick('writeKeys', undefined, 'PQL_WRITE_KEYS', readKeyList) ?? [];
  let adminToken = pick('adminToken', undefined, 'PQL_ADMIN_TOKEN', readString);

  const generated = { adminToken: false, writeKey: false };
  if (adminToken === undefined || writeKeys.length === 0) {
    const secrets = readOrCreateSecrets(dataDir, adminToken === undefined, writeKeys.length === 0);
    if (adminToken === undefined) {
      adminToken = secrets.adminToken;
      generated.adminToken = secrets.created.adminToken;
    }
    if (writeKeys.length === 0) {
      writeKeys = [secrets.writeKey];
      generated.writeKey = secrets.created.writeKey;
    }
  }
  if (writeKeys.includes(adminToken)) {
    throw new ServerConfigError('configuration', 'adminToken', 'must differ from every write key');
  }

  const config: ServerConfig = {
    ...DEFAULTS,
    port,
    host,
    dataDir,
    definitions,
    writeKeys,
    adminToken,
    allowedLatenessMs:
      pick('allowedLateness', undefined, 'PQL_ALLOWED_LATENESS', readDuration) ?? DEFAULTS.allowedLatenessMs,
    rateLimitPerKey:
      pick('rateLimitPerKey', undefined, 'PQL_RATE_LIMIT', readNonNegativeInt) ?? DEFAULTS.rateLimitPerKey,
    maxBodyBytes: fileOnly('maxBodyBytes', readPositiveInt) ?? DEFAULTS.maxBodyBytes,
    maxQueuedEvents: fileOnly('maxQueuedEvents', readPositiveInt) ?? DEFAULTS.maxQueuedEvents,
    posthogGroupType: fileOnly('posthogGroupType', readString),
    synchronous: fileOnly('synchronous', readSynchronous) ?? DEFAULTS.synchronous,
    store: pick('store', undefined, 'PQL_STORE', readString),
    stripeWebhookSecret: pick('stripeWebhookSecret', undefined, 'PQL_STRIPE_WEBHOOK_SECRET', readString),
  };
  return { config, generated };
}

/** A configuration for tests and embedding: defaults plus the given fields (secrets must be given). */
export function createServerConfig(
  fields: Partial<ServerConfig> & Pick<ServerConfig, 'dataDir' | 'writeKeys' | 'adminToken'>,
): ServerConfig {
  return { ...DEFAULTS, definitions: undefined, ...fields };
}

/** The configuration file: the one given (`--config`), else `pql.yaml` in `cwd` when present, else none. */
export function resolveConfigPath(flag: string | undefined, cwd: string): string | undefined {
  return flag ?? (existsSync(join(cwd, 'pql.yaml')) ? join(cwd, 'pql.yaml') : undefined);
}

/** Reads a configuration file as a mapping of settings; throws a `ServerConfigError` naming the file. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ServerConfigError(path, '', `cannot read the file (${(error as Error).message})`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new ServerConfigError(path, '', `not valid YAML (${(error as Error).message})`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ServerConfigError(path, '', 'expected a mapping of settings (port: 7070, ...)');
  }
  return value as Record<string, unknown>;
}

interface Secrets {
  readonly adminToken: string;
  readonly writeKey: string;
  readonly created: GeneratedSecrets;
}

function readOrCreateSecrets(dataDir: string, needAdmin: boolean, needWriteKey: boolean): Secrets {
  const path = join(dataDir, SECRETS_FILE);
  let stored: { adminToken?: unknown; writeKey?: unknown } = {};
  if (existsSync(path)) {
    try {
      stored = JSON.parse(readFileSync(path, 'utf8')) as typeof stored;
    } catch (error) {
      throw new ServerConfigError(
        path,
        '',
        `not valid JSON (${(error as Error).message}); delete it to regenerate`,
      );
    }
  }
  const created = {
    adminToken: needAdmin && typeof stored.adminToken !== 'string',
    writeKey: needWriteKey && typeof stored.writeKey !== 'string',
  };
  const adminToken =
    typeof stored.adminToken === 'string'
      ? stored.adminToken
      : `pqla_${randomBytes(24).toString('base64url')}`;
  const writeKey =
    typeof stored.writeKey === 'string' ? stored.writeKey : `pqlw_${randomBytes(18).toString('base64url')}`;
  if (created.adminToken || created.writeKey) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path, `${JSON.stringify({ adminToken, writeKey }, null, 2)}\n`, { mode: 0o600 });
  }
  return { adminToken, writeKey, created };
}

function kebab(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
}

function readString(value: unknown, source: string): string {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number') return String(value);
  throw new ServerConfigError(source, '', `expected a non-empty string, got ${describe(value)}`);
}

function readPort(value: unknown, source: string): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535) return n;
  throw new ServerConfigError(source, '', `expected a port number 0-65535, got ${describe(value)}`);
}

function readPositiveInt(value: unknown, source: string): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n > 0) return n;
  throw new ServerConfigError(source, '', `expected a positive integer, got ${describe(value)}`);
}

function readNonNegativeInt(value: unknown, source: string): number {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 0) return n;
  throw new ServerConfigError(source, '', `expected an integer >= 0, got ${describe(value)}`);
}

function readKeyList(value: unknown, source: string): string[] {
  const items = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : undefined;
  if (items === undefined || !items.every((k) => typeof k === 'string' || typeof k === 'number')) {
    throw new ServerConfigError(
      source,
      '',
      `expected comma-separated keys or a list, got ${describe(value)}`,
    );
  }
  const keys = items.map((k) => String(k).trim()).filter((k) => k !== '');
  if (keys.some((k) => k.includes(':'))) {
    throw new ServerConfigError(
      source,
      '',
      'a write key may not contain ":" (it is sent as a Basic username)',
    );
  }
  return keys;
}

function readDuration(value: unknown, source: string): number {
  const parsed = parseDuration(value);
  if (parsed.ok) return parsed.value;
  throw new ServerConfigError(source, '', `expected a duration like "1h" or "30m", got ${describe(value)}`);
}

function readSynchronous(value: unknown, source: string): 'NORMAL' | 'FULL' {
  if (value === 'NORMAL' || value === 'FULL') return value;
  throw new ServerConfigError(source, '', `expected NORMAL or FULL, got ${describe(value)}`);
}
