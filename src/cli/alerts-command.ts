import { join } from 'node:path';
import type { Command } from 'commander';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { AlertRecord, AlertStatus } from '../store/store.js';
import type { CliIo } from './main.js';

const STATUSES: readonly AlertStatus[] = ['pending', 'delivered', 'dead', 'disabled'];

function summary(alert: AlertRecord): string {
  const when = alert.deliveredAt ?? alert.nextAttemptAt;
  const error = alert.lastError === undefined ? '' : `  last error: ${alert.lastError}`;
  const duplicate = alert.possibleDuplicate ? '  (possible duplicate send)' : '';
  return `${alert.status.padEnd(9)} ${alert.id}  attempts ${alert.attempts}  ${new Date(when).toISOString()}${error}${duplicate}`;
}

/** Registers `pql alerts` (list), `pql alerts show ID` and `pql alerts retry ID` on the program. */
export function registerAlertsCommand(
  program: Command,
  io: CliIo,
  dataDir: () => string,
  fail: (message: string) => never,
  setExit: (code: number) => void,
): void {
  const alerts = program
    .command('alerts')
    .description('list alert deliveries (the outbox), inspect one, or retry a dead-lettered one')
    .option('--data-dir <dir>', 'store directory (default: PQL_DATA_DIR or .pql/data)')
    .option('--status <status>', `only alerts in this state (${STATUSES.join(', ')})`)
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print { alerts: [...] } as JSON')
    .action(async (options: { dataDir?: string; status?: string; limit: string; json?: boolean }) => {
      if (options.status !== undefined && !STATUSES.includes(options.status as AlertStatus)) {
        fail(`--status: expected one of ${STATUSES.join(', ')}, got "${options.status}"`);
      }
      const store = SqliteStore.open(join(options.dataDir ?? dataDir(), 'pql.sqlite'));
      try {
        const list = await store.listAlerts({
          ...(options.status === undefined ? {} : { status: options.status as AlertStatus }),
          limit: Number(options.limit),
        });
        if (options.json === true) io.out(JSON.stringify({ alerts: list }, null, 2));
        else if (list.length === 0) io.out('no alerts');
        else for (const alert of list) io.out(summary(alert));
      } finally {
        await store.close();
      }
    });

  // `--data-dir` after a subcommand is parsed by the parent command (commander's default), so look at both.
  const storeDir = (options: { dataDir?: string }): string =>
    options.dataDir ?? (alerts.opts() as { dataDir?: string }).dataDir ?? dataDir();

  alerts
    .command('show')
    .argument('<id>', 'alert id, e.g. devtool-activated:acc_00042:1/slack-api')
    .option('--data-dir <dir>', 'store directory')
    .description('print one alert with its payload as JSON')
    .action(async (id: string, options: { dataDir?: string }) => {
      const store = SqliteStore.open(join(storeDir(options), 'pql.sqlite'));
      try {
        const alert = await store.getAlert(id);
        if (alert === undefined) fail(`no alert "${id}"`);
        io.out(JSON.stringify({ alert }, null, 2));
      } finally {
        await store.close();
      }
    });

  alerts
    .command('retry')
    .argument('<id>', 'a dead or disabled alert id')
    .option('--data-dir <dir>', 'store directory')
    .description('queue a dead-lettered or disabled alert again')
    .action(async (id: string, options: { dataDir?: string }) => {
      const store = SqliteStore.open(join(storeDir(options), 'pql.sqlite'));
      try {
        if (await store.retryAlert(id, Date.now())) io.out(`queued ${id} again`);
        else {
          io.err(`pql: alert "${id}" is not dead or disabled (or does not exist)`);
          setExit(2);
        }
      } finally {
        await store.close();
      }
    });
}
