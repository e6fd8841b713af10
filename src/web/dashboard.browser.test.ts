/**
 * The dashboard in a real browser: Debian's Chromium (playwright-core) against a real `pql serve` over a small
 * generated demo world. Screenshots of every page go to test-artifacts/.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo } from '../cli/demo-command.js';
import { loadDefinitionsOrFail, PACKAGED_DEFINITIONS, type CliIo } from '../cli/main.js';
import { runServe } from '../cli/serve-command.js';

const CHROMIUM = '/usr/bin/chromium';
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = join(REPO, 'test-artifacts');
const required = process.env['PQL_REQUIRE_SERVICES'] === '1';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (required)
    throw new Error(`PQL_REQUIRE_SERVICES=1 but ${CHROMIUM} is missing (apt-get install chromium)`);
  console.warn(`dashboard browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium)`);
}

interface QueueRow {
  readonly id: string;
  readonly accountId: string;
  readonly status: string;
  readonly owner: { readonly ownerId: string } | null;
}

let dataDir: string;
let url: string;
let adminToken: string;
let writeKey: string;
let stopServer: () => void;
let served: Promise<void>;
let context: BrowserContext;
let page: Page;

const silent: CliIo = { out: () => {}, err: () => {} };

async function adminGet<T>(path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
  return { status: response.status, body: (await response.json()) as T };
}

/** Builds the dashboard into dist/web unless the build is newer than every file under web/. */
async function ensureDashboardBuilt(): Promise<void> {
  const index = join(REPO, 'dist/web/index.html');
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
        const path = join(dir, entry.name);
        return entry.isDirectory() ? newest(path) : statSync(path).mtimeMs;
      }),
    );
  if (existsSync(index) && statSync(index).mtimeMs > newest(join(REPO, 'web'))) return;
  await build({ configFile: join(REPO, 'web/vite.config.ts'), logLevel: 'warn' });
}

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `dashboard-${name}.png`), fullPage: true });
}

/** Opens a dashboard page with the admin token already stored (the first test logs in through the form). */
async function open(hash: string): Promise<void> {
  await page.goto(`${url}/`);
  // A string expression: it runs in the page, where localStorage exists (Node's types do not declare it).
  await page.evaluate(`localStorage.setItem('pql.adminToken', ${JSON.stringify(adminToken)})`);
  await page.goto(`${url}/${hash}`);
}

/** Waits for a locator; on a timeout saves the page (screenshot and HTML) before failing. */
async function waitOrSave(
  locator: ReturnType<Page['locator']>,
  name: string,
  timeout = 30_000,
): Promise<void> {
  try {
    await locator.first().waitFor({ timeout });
  } catch (error) {
    await screenshot(`${name}-failed`);
    writeFileSync(join(ARTIFACTS, `dashboard-${name}-failed.html`), await page.content());
    throw error;
  }
}

async function rowCount(): Promise<number> {
  return page.locator('table[aria-label="PQLs"] tbody tr').count();
}

describe.skipIf(!haveChromium)('dashboard in Chromium', () => {
  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    process.env['PQL_LOG_LEVEL'] = 'silent';
    for (const name of ['PQL_SLACK_WEBHOOK_URL', 'PQL_SLACK_BOT_TOKEN', 'PQL_WEBHOOK_URL', 'PQL_STORE'])
      delete process.env[name];
    const building = ensureDashboardBuilt();
    dataDir = mkdtempSync(join(tmpdir(), 'pql-dashboard-'));
    await runDemo(silent, {
      dataDir,
      seed: 7,
      accounts: 400,
      definitions: await loadDefinitionsOrFail(PACKAGED_DEFINITIONS),
      json: true,
    });
    const definitions = join(dataDir, 'definitions');
    cpSync(PACKAGED_DEFINITIONS, definitions, { recursive: true });
    await building;
    const listening = new Promise<void>((resolve) => {
      served = runServe({ dataDir, definitions, port: '0', host: '127.0.0.1' }, silent, {
        stop: new Promise<void>((stop) => (stopServer = stop)),
        onListening: (at, token, keys) => {
          url = at;
          adminToken = token;
          writeKey = keys[0] ?? '';
          resolve();
        },
      });
      served.catch(() => resolve());
    });
    await listening;
    context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'pql-chromium-')), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1440, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => console.error(`dashboard page error: ${error.message}`));
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    stopServer?.();
    await served?.catch(() => {});
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it('logs in with the admin token and lists the demo PQLs', async () => {
    await page.goto(`${url}/`);
    await page.getByLabel('Admin token').fill(adminToken);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('table[aria-label="PQLs"] tbody tr').first().waitFor();
    const queue = await adminGet<{ pqls: QueueRow[] }>('/api/dashboard/queue');
    const open = queue.body.pqls;
    expect(open.length).toBeGreaterThan(0);
    expect(await rowCount()).toBe(open.length);
    const shown = await page
      .locator('table[aria-label="PQLs"] tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-pql')));
    expect(new Set(shown)).toEqual(new Set(open.map((p) => p.id)));
    await page.locator('.live[data-live="true"]').waitFor();
    await screenshot('queue');
  });

  it('narrows the queue to one owner', async () => {
    const queue = await adminGet<{ pqls: QueueRow[] }>('/api/dashboard/queue');
    const open = queue.body.pqls;
    const byOwner = new Map<string, number>();
    for (const p of open)
      if (p.owner !== null) byOwner.set(p.owner.ownerId, (byOwner.get(p.owner.ownerId) ?? 0) + 1);
    const [ownerId, expected] = [...byOwner].sort((a, b) => b[1] - a[1])[0] ?? ['', 0];
    expect(expected).toBeGreaterThan(0);
    expect(expected).toBeLessThan(open.length);
    await page.getByLabel('Owner').selectOption(ownerId);
    await expect.poll(rowCount).toBe(expected);
    await screenshot('queue-owner');
    await page.getByLabel('Owner').selectOption('');
    await expect.poll(rowCount).toBe(open.length);
  });

  it('shows a new PQL without a reload when ingested events complete a definition', async () => {
    const accountId = `acc_live_${Date.now()}`;
    const now = Date.now();
    const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();
    // team-expansion: three active users and two teammate invitations within 14 days.
    const batch = [
      ...['ana', 'ben', 'cleo'].map((user, i) => ({
        type: 'track',
        messageId: `${accountId}-active-${user}`,
        userId: `${accountId}-${user}`,
        event: 'Dashboard Viewed',
        timestamp: at(30 - i),
        context: { groupId: accountId },
      })),
      ...[1, 2].map((n) => ({
        type: 'track',
        messageId: `${accountId}-invite-${n}`,
        userId: `${accountId}-ana`,
        event: 'Teammate Invited',
        properties: { invitee_email: `t${n}@example.com` },
        timestamp: at(10 - n),
        context: { groupId: accountId },
      })),
    ];
    const row = page.locator(`table[aria-label="PQLs"] tbody tr[data-account="${accountId}"]`);
    expect(await row.count()).toBe(0);
    const started = performance.now();
    const answer = await fetch(`${url}/v1/batch`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
      },
      body: JSON.stringify({ batch }),
    });
    expect(answer.status).toBe(200);
    const acknowledged = Math.round(performance.now() - started);
    await row.waitFor({ timeout: 15_000 });
    const ms = Math.round(performance.now() - started);
    const queueStarted = performance.now();
    await adminGet('/api/dashboard/queue');
    const queueMs = Math.round(performance.now() - queueStarted);
    console.log(
      `dashboard live update: new PQL row visible ${ms} ms after the ingest request (target < 2000 ms; ` +
        `ingest acknowledged after ${acknowledged} ms; GET /api/dashboard/queue takes ${queueMs} ms)`,
    );
    const measured = {
      measuredAt: new Date().toISOString(),
      ingestToRowMs: ms,
      ingestAckMs: acknowledged,
      queueMs,
    };
    writeFileSync(
      join(ARTIFACTS, 'dashboard-live-latency.json'),
      JSON.stringify({ ...measured, targetMs: 2000 }, null, 2),
    );
    expect(await row.textContent()).toContain('Team expansion');
    await screenshot('queue-live');
  });

  it('records a disposition with a reason from the queue', async () => {
    const row = page.locator('table[aria-label="PQLs"] tbody tr').first();
    const pqlId = await row.getAttribute('data-pql');
    await row.getByText('Mark…').click();
    await row.getByLabel('Disposition', { exact: true }).selectOption('disqualified');
    await row.getByLabel('Reason').fill('student project');
    await row.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => row.locator('.badge').textContent()).toBe('disqualified');
    const queue = await adminGet<{ pqls: (QueueRow & { disposition: { reason: string } | null })[] }>(
      '/api/dashboard/queue',
    );
    expect(queue.body.pqls.find((p) => p.id === pqlId)?.disposition?.reason).toBe('student project');
  });

  it("opens an account's story with every definition's clauses", async () => {
    const link = page.locator('table[aria-label="PQLs"] tbody tr a').first();
    await link.click();
    await page.getByRole('heading', { name: 'Definitions' }).waitFor();
    expect(await page.locator('section[aria-label^="Definition "]').count()).toBe(3);
    await page.getByRole('heading', { name: /^Activity/ }).waitFor();
    await screenshot('account');
  });

  it('lists near-PQLs and alerts with join health', async () => {
    await page.goto(`${url}/#/near`);
    await page.locator('table[aria-label="Near-PQLs"]').waitFor();
    await screenshot('near-pqls');
    await page.goto(`${url}/#/alerts`);
    await page.getByRole('heading', { name: 'Join health' }).waitFor();
    await page.locator('table[aria-label="Join summary"], .empty').first().waitFor();
    await screenshot('alerts');
  });

  it('shows a validation error with its line for bad YAML and a backtest for a good definition', async () => {
    await page.goto(`${url}/#/definitions/team-expansion`);
    const editor = page.getByLabel('Definition YAML');
    await expect.poll(() => editor.inputValue()).toContain('id: team-expansion');
    const good = await editor.inputValue();
    await editor.fill(good.replace('count: { gte: 2 }', 'count: { gte: two }'));
    const problem = page.locator('[data-problem-line]').first();
    await problem.waitFor({ timeout: 10_000 });
    const line = good.split('\n').findIndex((l) => l.includes('count: { gte: 2 }')) + 1;
    expect(await problem.getAttribute('data-problem-line')).toBe(String(line));
    expect(await problem.textContent()).toContain('signals.invites');
    await screenshot('editor-invalid');
    await editor.fill(good);
    await page.getByText('Valid.').waitFor();
    await page.getByRole('button', { name: 'Backtest preview' }).click();
    const qualified = page.getByTestId('backtest-qualified');
    await qualified.waitFor({ timeout: 30_000 });
    const response = await fetch(`${url}/api/dashboard/backtest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: good }),
    });
    const backtest = (await response.json()) as { qualified: number };
    expect(backtest.qualified).toBeGreaterThan(0);
    expect(Number(await qualified.textContent())).toBe(backtest.qualified);
    await screenshot('editor-backtest');
  });

  it('renders the cohort heatmap with one cell per cohort period', async () => {
    const report = await adminGet<{
      cohorts: { periods: { mrrRetention: number | null }[] }[];
    }>('/api/analysis/cohorts?by=month&split=definition');
    expect(report.status).toBe(200);
    const periods = report.body.cohorts.flatMap((c) => c.periods);
    expect(periods.length).toBeGreaterThan(0);
    await open('#/cohorts');
    const cells = page.locator('rect[aria-label^="cohort cell "]');
    await waitOrSave(cells, 'cohorts');
    expect(await cells.count()).toBe(periods.length);
    await screenshot('cohorts');
    await page.getByLabel('MRR retention').check();
    await expect.poll(() => cells.count()).toBe(periods.filter((p) => p.mrrRetention !== null).length);
  });

  it('renders the lift vs coverage chart with one dot per candidate', async () => {
    const report = await adminGet<{ candidates: { lift?: number }[] }>(
      '/api/analysis/discover?behaviourDays=30&conversionDays=90',
    );
    expect(report.status).toBe(200);
    const expected = report.body.candidates.filter((c) => c.lift !== undefined && c.lift !== null).length;
    expect(expected).toBeGreaterThan(0);
    await open('#/discovery');
    const dots = page.locator('circle[aria-label^="candidate "]');
    await waitOrSave(dots, 'discovery');
    expect(await dots.count()).toBe(expected);
    await screenshot('discovery');
  });
});
