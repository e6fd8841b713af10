import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CrmCompany, CrmOwner, DemoWorld } from './demo-world.js';

/** Counts of what `writeWorkspace` wrote. */
export interface WorkspaceCounts {
  readonly events: number;
  readonly companies: number;
  readonly owners: number;
  readonly stripeEvents: number;
}

/** Header of `crm/companies.csv` (the workspace export contract in DESIGN.md). */
export const COMPANIES_CSV_HEADER =
  'company_id,name,domain,employees,industry,country,owner_id,lifecycle_stage,lead_source,mql_at,created_at,updated_at';

/** Header of `crm/owners.csv` (the workspace export contract in DESIGN.md). */
export const OWNERS_CSV_HEADER = 'owner_id,name,email,slack_user_id,territory,weight,away';

const CHUNK_CHARS = 64 * 1024;
const PROGRESS_EVERY = 10_000;

/** Quotes a CSV field (RFC 4180) when it holds a comma, a double quote, a line break or edge spaces. */
export function csvField(value: string | number | boolean | undefined): string {
  if (value === undefined) return '';
  const text = String(value);
  if (/[",\r\n]/.test(text) || text.trim() !== text) return `"${text.replace(/"/g, '""')}"`;
  return text;
}

function isoOrEmpty(at: number | undefined): string | undefined {
  return at === undefined ? undefined : new Date(at).toISOString();
}

function companyRow(company: CrmCompany): string {
  return [
    company.companyId,
    company.name,
    company.domain,
    company.employees,
    company.industry,
    company.country,
    company.ownerId,
    company.lifecycleStage,
    company.leadSource,
    isoOrEmpty(company.mqlAt),
    isoOrEmpty(company.createdAt),
    isoOrEmpty(company.updatedAt),
  ]
    .map(csvField)
    .join(',');
}

function ownerRow(owner: CrmOwner): string {
  return [
    owner.ownerId,
    owner.name,
    owner.email,
    owner.slackUserId,
    owner.territory,
    owner.weight,
    owner.away,
  ]
    .map(csvField)
    .join(',');
}

/** Joins lines into ~64 KB chunks: one stream write per chunk instead of per line. */
function* chunked(lines: Iterable<string>, onLine?: () => void): Generator<string> {
  let chunk = '';
  for (const line of lines) {
    chunk += line;
    chunk += '\n';
    onLine?.();
    if (chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk.length > 0) yield chunk;
}

async function writeLines(path: string, lines: Iterable<string>, onLine?: () => void): Promise<void> {
  // pipeline() honours the file stream's backpressure and rejects (closing the file) on any error.
  await pipeline(Readable.from(chunked(lines, onLine), { objectMode: false }), createWriteStream(path));
}

function* serialize<T>(items: Iterable<T>): Generator<string> {
  for (const item of items) yield JSON.stringify(item);
}

/**
 * Writes a demo world as a workspace export directory (`events.ndjson` in global timestamp order, `crm/companies.csv`,
 * `crm/owners.csv`, `billing/stripe-events.ndjson`), streaming with backpressure; `onProgress` gets the events written.
 */
export async function writeWorkspace(
  dir: string,
  world: DemoWorld,
  onProgress?: (written: number) => void,
): Promise<WorkspaceCounts> {
  await mkdir(join(dir, 'crm'), { recursive: true });
  await mkdir(join(dir, 'billing'), { recursive: true });

  let events = 0;
  await writeLines(join(dir, 'events.ndjson'), serialize(world.eventsByTime()), () => {
    events++;
    if (onProgress !== undefined && events % PROGRESS_EVERY === 0) onProgress(events);
  });
  onProgress?.(events);

  await writeLines(join(dir, 'crm', 'companies.csv'), [
    COMPANIES_CSV_HEADER,
    ...world.companies.map(companyRow),
  ]);
  await writeLines(join(dir, 'crm', 'owners.csv'), [OWNERS_CSV_HEADER, ...world.owners.map(ownerRow)]);
  await writeLines(join(dir, 'billing', 'stripe-events.ndjson'), serialize(world.stripeEvents));

  return {
    events,
    companies: world.companies.length,
    owners: world.owners.length,
    stripeEvents: world.stripeEvents.length,
  };
}
