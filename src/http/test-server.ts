/** Test support: a real server on port 0 over a temporary SQLite store (tests only). */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { LoadedDefinition } from '../config/definition-files.js';
import { createServerConfig, type ServerConfig } from '../config/server-config.js';
import { DefinitionCatalog } from '../runtime/definition-catalog.js';
import { Detector } from '../runtime/detector.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { createAlerting, repOfOwner } from '../alerts/alerting-runtime.js';
import type { AlertingConfig } from '../alerts/alerting-config.js';
import { LiveSources } from '../sources/live-sources.js';
import { createServer, type PqlServer } from './create-server.js';

export const TEST_WRITE_KEY = 'wk_test_1';
export const TEST_ADMIN_TOKEN = 'admin_test_token';

/** Qualifies an account at its third "API Call Made". */
export const TEST_DEFINITION = `id: api-active
name: API active
signals:
  calls: { event: API Call Made, count: { gte: 3 } }
qualify: { all: [calls] }
`;

/** A running test server and what it runs on. */
export interface TestServer {
  readonly url: string;
  readonly server: PqlServer;
  readonly store: SqliteStore;
  readonly detector: Detector;
  /** The watched definition folder (holding api-active.yaml). */
  readonly definitionsDir: string;
  /** The live CRM and billing sources, when started with `sources: true`. */
  readonly sources: LiveSources | undefined;
  stop(): Promise<void>;
}

/** Options of a test server beyond its configuration. */
export interface TestServerOptions {
  /** Milliseconds every append takes, to stand for a disk that cannot keep up. */
  readonly slowAppendMs?: number;
  /** Serve the live CRM and billing routes over sources in the temporary data directory. */
  readonly sources?: boolean;
  /** Plan alerts into the outbox for these channels (routed over the sources' owners); no worker runs. */
  readonly alerting?: AlertingConfig;
  /** The server's logger (silent by default). */
  readonly logger?: Logger;
  /** More definition files beside api-active.yaml, by file name. */
  readonly definitions?: Readonly<Record<string, string>>;
}

/** Starts a server on 127.0.0.1 port 0 with a fresh temporary data directory and the test definition. */
export async function startTestServer(
  overrides: Partial<ServerConfig> = {},
  options: TestServerOptions = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pql-http-'));
  const definitionsDir = join(dir, 'definitions');
  mkdirSync(definitionsDir);
  writeFileSync(join(definitionsDir, 'api-active.yaml'), TEST_DEFINITION);
  for (const [name, text] of Object.entries(options.definitions ?? {}))
    writeFileSync(join(definitionsDir, name), text);
  const sources = options.sources === true ? await LiveSources.open(dir) : undefined;
  const alerting =
    options.alerting === undefined
      ? undefined
      : createAlerting(options.alerting, (sources?.owners() ?? []).map(repOfOwner));
  sources?.onOwnersChanged((owners) => alerting?.updateReps(owners.map(repOfOwner)));
  const opened = await DefinitionCatalog.open(definitionsDir);
  if (!opened.ok) throw new Error(JSON.stringify(opened.problems));
  const catalog = opened.catalog;
  const store = SqliteStore.open(join(dir, 'pql.sqlite'));
  // A store that takes `slowAppendMs` per append, to stand for a disk that cannot keep up.
  const slow = options.slowAppendMs;
  const detectorStore =
    slow === undefined
      ? store
      : new Proxy(store, {
          get(target, property, receiver) {
            if (property === 'appendEvents') {
              return async (events: Parameters<SqliteStore['appendEvents']>[0]) => {
                await new Promise((resolve) => setTimeout(resolve, slow));
                return target.appendEvents(events);
              };
            }
            const value: unknown = Reflect.get(target, property, receiver);
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
  const reopen = (definitions: readonly LoadedDefinition[]): Promise<Detector> =>
    Detector.open(
      detectorStore,
      definitions,
      alerting === undefined ? {} : { alerting: alerting.detectorOption },
    );
  const detector = await reopen(catalog.definitions);
  const config = createServerConfig({
    dataDir: dir,
    writeKeys: [TEST_WRITE_KEY],
    adminToken: TEST_ADMIN_TOKEN,
    tickIntervalMs: 0,
    ...overrides,
  });
  const server = createServer({
    detector,
    config,
    logger: options.logger ?? pino({ level: 'silent' }),
    catalog,
    reopen,
    ...(sources === undefined ? {} : { sources }),
  });
  const url = await server.listen(0, '127.0.0.1');
  return {
    url,
    server,
    store,
    detector,
    definitionsDir,
    sources,
    async stop() {
      await server.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `Authorization: Basic` with the write key as username (and the colon, as Segment's SDKs send it). */
export function basicAuth(key: string, colon = true): string {
  return `Basic ${Buffer.from(colon ? `${key}:` : key).toString('base64')}`;
}

/** Headers of an admin read. */
export const ADMIN_HEADERS = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
