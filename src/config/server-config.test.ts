import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadServerConfig, ServerConfigError } from './server-config.js';

describe('loadServerConfig', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pql-config-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('generates an admin token and a write key once, keeps them in the data dir, and reuses them on restart', () => {
    const dataDir = join(dir, 'data');
    const first = loadServerConfig({ dataDir }, {}, dir);
    expect(first.generated).toEqual({ adminToken: true, writeKey: true });
    expect(first.config.port).toBe(7070);
    expect(statSync(join(dataDir, 'secrets.json')).mode & 0o777).toBe(0o600);
    const second = loadServerConfig({ dataDir }, {}, dir);
    expect(second.generated).toEqual({ adminToken: false, writeKey: false });
    expect(second.config.adminToken).toBe(first.config.adminToken);
    expect(second.config.writeKeys).toEqual(first.config.writeKeys);
  });

  it('reads the Stripe webhook secret from pql.yaml, overridden by PQL_STRIPE_WEBHOOK_SECRET, and leaves it unset by default', () => {
    const dataDir = join(dir, 'data');
    expect(loadServerConfig({ dataDir }, {}, dir).config.stripeWebhookSecret).toBeUndefined();
    writeFileSync(join(dir, 'pql.yaml'), 'stripeWebhookSecret: whsec_file\n');
    expect(loadServerConfig({ dataDir }, {}, dir).config.stripeWebhookSecret).toBe('whsec_file');
    const env = { PQL_STRIPE_WEBHOOK_SECRET: 'whsec_new,whsec_old' };
    expect(loadServerConfig({ dataDir }, env, dir).config.stripeWebhookSecret).toBe('whsec_new,whsec_old');
  });

  it('reads pql.yaml, lets environment variables override it and flags override both', () => {
    writeFileSync(
      join(dir, 'pql.yaml'),
      'port: 8000\ndataDir: from-file\nwriteKeys: [a, b]\nadminToken: file-admin\nallowedLateness: 30m\n',
    );
    const fromFile = loadServerConfig({}, {}, dir).config;
    expect(fromFile).toMatchObject({
      port: 8000,
      dataDir: 'from-file',
      writeKeys: ['a', 'b'],
      adminToken: 'file-admin',
      allowedLatenessMs: 1_800_000,
    });
    const env = {
      PQL_PORT: '9000',
      PQL_WRITE_KEYS: 'k1, k2',
      PQL_ADMIN_TOKEN: 'env-admin',
      PQL_DATA_DIR: 'env-dir',
      PQL_DEFINITIONS: 'defs',
    };
    const fromEnv = loadServerConfig({}, env, dir).config;
    expect(fromEnv).toMatchObject({
      port: 9000,
      dataDir: 'env-dir',
      writeKeys: ['k1', 'k2'],
      adminToken: 'env-admin',
      definitions: 'defs',
    });
    expect(loadServerConfig({ port: '9100', dataDir: 'flag-dir' }, env, dir).config).toMatchObject({
      port: 9100,
      dataDir: 'flag-dir',
    });
  });

  it('names the source, field and expected value of a bad setting', () => {
    expect(() =>
      loadServerConfig({}, { PQL_PORT: 'abc', PQL_ADMIN_TOKEN: 'x', PQL_WRITE_KEYS: 'y' }, dir),
    ).toThrow(new ServerConfigError('PQL_PORT', '', 'expected a port number 0-65535, got "abc"'));
    writeFileSync(join(dir, 'pql.yaml'), 'allowedLateness: 30 minutes\nadminToken: a\nwriteKeys: [b]\n');
    expect(() => loadServerConfig({}, {}, dir)).toThrow(
      /pql\.yaml: allowedLateness: .*expected a duration like "1h"/,
    );
    expect(() =>
      loadServerConfig(
        { dataDir: dir },
        { PQL_ADMIN_TOKEN: 'same', PQL_WRITE_KEYS: 'same' },
        join(dir, 'none'),
      ),
    ).toThrow(/must differ from every write key/);
  });

  it('does not write a secrets file when both secrets are configured', () => {
    loadServerConfig({ dataDir: join(dir, 'd') }, { PQL_ADMIN_TOKEN: 'a', PQL_WRITE_KEYS: 'b' }, dir);
    expect(() => readFileSync(join(dir, 'd', 'secrets.json'))).toThrow();
  });
});
