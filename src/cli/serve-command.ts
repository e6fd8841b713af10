import { join } from 'node:path';
import { pino } from 'pino';
import { loadServerConfig, ServerConfigError, type ServeFlags } from '../config/server-config.js';
import { createServer } from '../http/create-server.js';
import { Detector } from '../runtime/detector.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { CliInputError, definitionsPath, loadDefinitionsOrFail, type CliIo } from './main.js';

/**
 * `pql serve`: opens the embedded store, rebuilds detection state, serves the ingest and read APIs until
 * SIGINT/SIGTERM, then drains in-flight requests and commits before closing the store.
 */
export async function runServe(flags: ServeFlags, io: CliIo, stop?: Promise<unknown>): Promise<void> {
  let resolved;
  try {
    resolved = loadServerConfig(flags);
  } catch (error) {
    if (error instanceof ServerConfigError) throw new CliInputError(error.message);
    throw error;
  }
  const { config, generated } = resolved;
  const definitions = await loadDefinitionsOrFail(definitionsPath(config.definitions));
  const logger = pino({ level: process.env['PQL_LOG_LEVEL'] ?? 'info', base: { service: 'pql' } });
  const store = SqliteStore.open(join(config.dataDir, 'pql.sqlite'), { synchronous: config.synchronous });
  try {
    const detector = await Detector.open(store, definitions, { allowedLatenessMs: config.allowedLatenessMs });
    const server = createServer({ detector, config, logger });
    const url = await server.listen();
    io.out(`pql serve: listening on ${url} (${definitions.length} definitions, data in ${config.dataDir})`);
    // Secrets are printed once, when generated, on the terminal only; they never go to the log.
    if (generated.adminToken)
      io.out(
        `admin token (generated, kept in ${join(config.dataDir, 'secrets.json')}): ${config.adminToken}`,
      );
    if (generated.writeKey)
      io.out(
        `write key (generated, kept in ${join(config.dataDir, 'secrets.json')}): ${config.writeKeys[0] ?? ''}`,
      );
    if (!generated.adminToken && !generated.writeKey) {
      io.out(
        `admin token and write keys: from the configuration (or ${join(config.dataDir, 'secrets.json')})`,
      );
    }
    await (stop ??
      new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      }));
    io.out('pql serve: shutting down (draining in-flight requests)');
    await server.close();
  } finally {
    await store.close();
  }
}
