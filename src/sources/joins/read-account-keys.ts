import type { AccountJoinKeys } from '../../core/sources/join-resolver.js';
import { readLines } from '../read-lines.js';

const GROUP_ID = /"(?:groupId|group_id)"\s*:/;

interface KeyEntry {
  crmCompanyId?: string;
  crmAt: number;
  domain?: string;
  domainAt: number;
}

/**
 * Collects what the joins need from raw event messages: every account id (a group call's `groupId` or an
 * event's `context.groupId`) and its latest `crm_company_id` and `domain` group traits (by timestamp).
 * Fed by the scan below, or by a reader that parses every line anyway (analysis), which then needs no
 * second pass over the file.
 */
export class AccountKeyCollector {
  private readonly accounts = new Map<string, KeyEntry>();

  /** Takes one parsed message (anything JSON.parse returned); what is not an object is ignored. */
  add(message: unknown): void {
    if (message === null || typeof message !== 'object') return;
    const m = message as Record<string, unknown>;
    const context = m['context'] as Record<string, unknown> | undefined;
    const contextGroup = typeof context === 'object' && context !== null ? context['groupId'] : undefined;
    if (typeof contextGroup === 'string' && contextGroup !== '') this.touch(contextGroup);
    if (m['type'] !== 'group') return;
    const groupId = m['groupId'];
    if (typeof groupId !== 'string' || groupId === '') return;
    const entry = this.touch(groupId);
    const traits = m['traits'] as Record<string, unknown> | undefined;
    const at = Date.parse(String(m['timestamp'] ?? m['sentAt'] ?? ''));
    const time = Number.isNaN(at) ? Number.NEGATIVE_INFINITY : at;
    const crm = traits?.['crm_company_id'];
    if ((typeof crm === 'string' || typeof crm === 'number') && String(crm) !== '' && time >= entry.crmAt) {
      entry.crmCompanyId = String(crm);
      entry.crmAt = time;
    }
    const domain = traits?.['domain'] ?? traits?.['website'];
    if (typeof domain === 'string' && domain !== '' && time >= entry.domainAt) {
      entry.domain = domain;
      entry.domainAt = time;
    }
  }

  /** Every account seen, with its join keys. */
  keys(): AccountJoinKeys[] {
    return [...this.accounts].map(([accountId, e]) => ({
      accountId,
      crmCompanyId: e.crmCompanyId,
      domain: e.domain,
    }));
  }

  private touch(accountId: string): KeyEntry {
    let entry = this.accounts.get(accountId);
    if (entry === undefined) {
      entry = { crmAt: Number.NEGATIVE_INFINITY, domainAt: Number.NEGATIVE_INFINITY };
      this.accounts.set(accountId, entry);
    }
    return entry;
  }
}

/**
 * Scans `events.ndjson` for the accounts' join keys (see AccountKeyCollector). Only lines that name a
 * group are parsed; bad lines are skipped (the events import reports them).
 */
export async function readAccountJoinKeys(path: string): Promise<AccountJoinKeys[]> {
  const collector = new AccountKeyCollector();
  for await (const chunk of readLines(path)) {
    for (const line of chunk.lines) {
      if (!GROUP_ID.test(line)) continue;
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        continue;
      }
      collector.add(message);
    }
  }
  return collector.keys();
}
