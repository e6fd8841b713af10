import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemoWorld, type DemoWorld } from './demo-world.js';
import {
  COMPANIES_CSV_HEADER,
  OWNERS_CSV_HEADER,
  csvField,
  writeWorkspace,
  type WorkspaceCounts,
} from './write-workspace.js';

/** A minimal RFC 4180 reader, enough to check that what we wrote reads back field for field. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(field);
      field = '';
    } else if (char === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += char;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

describe('writeWorkspace', () => {
  let dir: string;
  let world: DemoWorld;
  let counts: WorkspaceCounts;
  const progress: number[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pql-demo-'));
    world = generateDemoWorld({ seed: 11, accounts: 300 });
    counts = await writeWorkspace(dir, world, (written) => progress.push(written));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes events.ndjson with one Segment message a line, ordered by timestamp', async () => {
    const lines = (await readFile(join(dir, 'events.ndjson'), 'utf8')).trimEnd().split('\n');
    expect(lines.length).toBe(counts.events);
    let expected = 0;
    for (const _ of world.events()) expected++;
    expect(counts.events).toBe(expected);
    const timestamps = lines.map((line) => (JSON.parse(line) as { timestamp: string }).timestamp);
    expect(timestamps).toEqual([...timestamps].sort());
  });

  it('reports progress and ends with the total number of events', () => {
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toBe(counts.events);
  });

  it('writes crm/companies.csv with the contract header and correctly quoted rows', async () => {
    const rows = parseCsv(await readFile(join(dir, 'crm', 'companies.csv'), 'utf8'));
    expect(rows[0]?.join(',')).toBe(COMPANIES_CSV_HEADER);
    expect(rows.length - 1).toBe(counts.companies);
    expect(counts.companies).toBe(world.companies.length);
    expect(rows.slice(1).every((row) => row.length === 12)).toBe(true);
    expect(rows.slice(1).map((row) => row[1])).toEqual(world.companies.map((company) => company.name));
    expect(world.companies.some((company) => company.name.includes(','))).toBe(true);
  });

  it('writes crm/owners.csv with the contract header and 8 reps in NA, EMEA and APAC', async () => {
    const rows = parseCsv(await readFile(join(dir, 'crm', 'owners.csv'), 'utf8'));
    expect(rows[0]?.join(',')).toBe(OWNERS_CSV_HEADER);
    expect(rows.length - 1).toBe(8);
    expect(counts.owners).toBe(8);
    expect(new Set(rows.slice(1).map((row) => row[4]))).toEqual(new Set(['NA', 'EMEA', 'APAC']));
    expect(rows.slice(1).find((row) => row[0] === 'owner-6')?.[1]).toBe('Tobias "Toby" Krüger');
  });

  it('writes billing/stripe-events.ndjson with Stripe Event objects', async () => {
    const lines = (await readFile(join(dir, 'billing', 'stripe-events.ndjson'), 'utf8'))
      .trimEnd()
      .split('\n');
    expect(lines.length).toBe(counts.stripeEvents);
    const events = lines.map(
      (line) => JSON.parse(line) as { id: string; object: string; type: string; created: number },
    );
    expect(events.every((event) => event.id.startsWith('evt_') && event.object === 'event')).toBe(true);
    expect(new Set(events.map((event) => event.type))).toContain('invoice.paid');
  });

  it('writes the same bytes again for the same world', async () => {
    const again = await mkdtemp(join(tmpdir(), 'pql-demo-'));
    try {
      await writeWorkspace(again, generateDemoWorld({ seed: 11, accounts: 300 }));
      for (const file of [
        'events.ndjson',
        'crm/companies.csv',
        'crm/owners.csv',
        'billing/stripe-events.ndjson',
      ]) {
        expect(await readFile(join(again, file), 'utf8')).toBe(await readFile(join(dir, file), 'utf8'));
      }
    } finally {
      await rm(again, { recursive: true, force: true });
    }
  });
});

describe('csvField', () => {
  it('quotes commas, double quotes, line breaks and edge spaces, and leaves plain text alone', () => {
    expect(csvField('Acme Labs, Inc.')).toBe('"Acme Labs, Inc."');
    expect(csvField('"Nova" Stack')).toBe('"""Nova"" Stack"');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(' padded')).toBe('" padded"');
    expect(csvField('plain')).toBe('plain');
    expect(csvField(42)).toBe('42');
    expect(csvField(false)).toBe('false');
    expect(csvField(undefined)).toBe('');
  });
});
