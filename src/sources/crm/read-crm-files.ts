import type { CrmCompanyRow, CrmOwnerRow } from '../../core/sources/source-trait-changes.js';
import type { FileReport } from '../import-workspace.js';
import { createFileReport, readCsvRows, rejectLine } from './csv-rows.js';

/** Columns of `crm/companies.csv` (DESIGN.md); `updated_at` is optional. */
export const COMPANY_COLUMNS = {
  required: ['company_id', 'name', 'domain', 'employees', 'industry', 'country', 'owner_id', 'lifecycle_stage', 'lead_source', 'mql_at', 'created_at'], // prettier-ignore
  optional: ['updated_at'],
} as const;

/** Columns of `crm/owners.csv` (DESIGN.md); `weight` and `away` are optional. */
export const OWNER_COLUMNS = {
  required: ['owner_id', 'name', 'email', 'slack_user_id', 'territory'],
  optional: ['weight', 'away'],
} as const;

/** The companies of a CRM file with its report. */
export interface CrmCompaniesFile {
  /** One row per company id: the latest by `updated_at` (else the later line). */
  readonly companies: readonly CrmCompanyRow[];
  readonly report: FileReport;
  /** Rows with neither `updated_at` nor `created_at`: their values count from the beginning of time. */
  readonly undatedRows: number;
}

const optional = (value: string | undefined): string | undefined =>
  value === undefined || value === '' ? undefined : value;

function parseTime(value: string | undefined): number | undefined | 'invalid' {
  if (value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value)) {
    // Unix seconds or milliseconds, as some CRM exports write them.
    const n = Number(value);
    return n < 1e11 ? n * 1000 : n;
  }
  const t = Date.parse(value);
  return Number.isNaN(t) ? 'invalid' : t;
}

/** A CRM company row, or why its fields do not make one (the code and message name the column). */
export type CompanyFieldsResult =
  | { readonly ok: true; readonly row: CrmCompanyRow }
  | { readonly ok: false; readonly code: string; readonly message: string };

/**
 * Parses one company's fields (the columns of `crm/companies.csv`, as strings; absent ones empty), from a
 * CSV line or an API upsert alike. `line` is kept for reports (0 when not from a file).
 */
export function parseCompanyFields(
  fields: Readonly<Record<string, string | undefined>>,
  line: number,
): CompanyFieldsResult {
  const companyId = fields['company_id'] ?? '';
  if (companyId === '')
    return { ok: false, code: 'missing_company_id', message: 'company_id: required, got an empty value' };
  const employeesText = fields['employees'] ?? '';
  const employees = employeesText === '' ? undefined : Number(employeesText.replace(/[,_ ]/g, ''));
  if (employees !== undefined && !(Number.isFinite(employees) && employees >= 0))
    return {
      ok: false,
      code: 'invalid_number',
      message: `employees: expected a number, got "${employeesText}"`,
    };
  const times: Record<string, number | undefined> = {};
  for (const column of ['mql_at', 'created_at', 'updated_at']) {
    const parsed = parseTime(fields[column]);
    if (parsed === 'invalid')
      return {
        ok: false,
        code: 'invalid_time',
        message: `${column}: expected an ISO-8601 time, got "${fields[column] ?? ''}"`,
      };
    times[column] = parsed;
  }
  return {
    ok: true,
    row: {
      companyId,
      name: optional(fields['name']),
      domain: optional(fields['domain']),
      employees,
      industry: optional(fields['industry']),
      country: optional(fields['country']),
      ownerId: optional(fields['owner_id']),
      lifecycleStage: optional(fields['lifecycle_stage']),
      leadSource: optional(fields['lead_source']),
      mqlAt: times['mql_at'],
      createdAt: times['created_at'],
      updatedAt: times['updated_at'],
      line,
    },
  };
}

/** Reads `crm/companies.csv`; bad rows are counted by reason with their lines, the rest is kept. */
export async function readCompaniesCsv(path: string, warnings: string[]): Promise<CrmCompaniesFile> {
  const report = createFileReport(path);
  const byId = new Map<string, CrmCompanyRow>();
  let undatedRows = 0;
  for await (const { line, fields } of readCsvRows(path, COMPANY_COLUMNS, report, warnings)) {
    const parsed = parseCompanyFields(fields, line);
    if (!parsed.ok) {
      rejectLine(report, parsed.code, line, parsed.message);
      continue;
    }
    const row = parsed.row;
    const companyId = row.companyId;
    const previous = byId.get(companyId);
    if (previous !== undefined) {
      report.duplicates++;
      const previousAt = previous.updatedAt ?? previous.createdAt ?? Number.NEGATIVE_INFINITY;
      const at = row.updatedAt ?? row.createdAt ?? Number.NEGATIVE_INFINITY;
      if (at < previousAt) continue;
    }
    byId.set(companyId, row);
  }
  report.accepted = byId.size;
  for (const row of byId.values())
    if (row.updatedAt === undefined && row.createdAt === undefined) undatedRows++;
  if (undatedRows > 0)
    warnings.push(
      `${path}: ${undatedRows} compan${undatedRows === 1 ? 'y has' : 'ies have'} neither updated_at nor created_at; their values count from the beginning of time`,
    );
  return { companies: [...byId.values()], report, undatedRows };
}

/** A CRM owner (sales rep) upsert: absent fields keep what is known of the owner (HubSpot has no Slack id). */
export interface CrmOwnerUpsert {
  readonly ownerId: string;
  readonly name?: string | undefined;
  readonly email?: string | undefined;
  readonly slackUserId?: string | undefined;
  readonly territory?: string | undefined;
  readonly weight?: number | undefined;
  readonly away?: boolean | undefined;
}

/** A CRM owner, or why its fields do not make one (the code and message name the column). */
export type OwnerFieldsResult =
  | { readonly ok: true; readonly owner: CrmOwnerUpsert }
  | { readonly ok: false; readonly code: string; readonly message: string };

/**
 * Parses one owner's fields (the columns of `crm/owners.csv`, as strings; absent or empty ones undefined),
 * from a CSV line or an API upsert alike.
 */
export function parseOwnerFields(fields: Readonly<Record<string, string | undefined>>): OwnerFieldsResult {
  const ownerId = fields['owner_id'] ?? '';
  if (ownerId === '')
    return { ok: false, code: 'missing_owner_id', message: 'owner_id: required, got an empty value' };
  const weightText = fields['weight'] ?? '';
  const weight = weightText === '' ? undefined : Number(weightText);
  if (weight !== undefined && !(Number.isFinite(weight) && weight >= 0))
    return {
      ok: false,
      code: 'invalid_number',
      message: `weight: expected a number >= 0, got "${weightText}"`,
    };
  const awayText = (fields['away'] ?? '').toLowerCase();
  if (!['', 'true', 'false', '1', '0', 'yes', 'no'].includes(awayText))
    return {
      ok: false,
      code: 'invalid_boolean',
      message: `away: expected true or false, got "${fields['away'] ?? ''}"`,
    };
  return {
    ok: true,
    owner: {
      ownerId,
      name: optional(fields['name']),
      email: optional(fields['email']),
      slackUserId: optional(fields['slack_user_id']),
      territory: optional(fields['territory']),
      weight,
      away: awayText === '' ? undefined : ['true', '1', 'yes'].includes(awayText),
    },
  };
}

/** Reads `crm/owners.csv` (sales reps for routing); bad rows are counted with their lines. */
export async function readOwnersCsv(
  path: string,
  warnings: string[],
): Promise<{ readonly owners: readonly CrmOwnerRow[]; readonly report: FileReport }> {
  const report = createFileReport(path);
  const byId = new Map<string, CrmOwnerRow>();
  for await (const { line, fields } of readCsvRows(path, OWNER_COLUMNS, report, warnings)) {
    const parsed = parseOwnerFields(fields);
    if (!parsed.ok) {
      rejectLine(report, parsed.code, line, parsed.message);
      continue;
    }
    const { owner } = parsed;
    if (byId.has(owner.ownerId)) report.duplicates++;
    else report.accepted++;
    byId.set(owner.ownerId, {
      ownerId: owner.ownerId,
      name: owner.name,
      email: owner.email,
      slackUserId: owner.slackUserId,
      territory: owner.territory,
      weight: owner.weight,
      away: owner.away ?? false,
    });
  }
  return { owners: [...byId.values()], report };
}
