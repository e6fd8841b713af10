import type { AccountJoinKeys } from '../../core/sources/join-resolver.js';
import { readLines } from '../read-lines.js';

const GROUP_CALL = /"type"\s*:\s*"group"/;
const GROUP_ID = /"(?:groupId|group_id)"\s*:/;

/**
 * Scans `events.ndjson` for what the joins need: every account id (a group call's `groupId` or an
 * event's `context.groupId`) and its latest `crm_company_id` and `domain` group traits (by timestamp).
 * Only lines that name a group are parsed; bad lines are skipped (the events import reports them).
 */
export async function readAccountJoinKeys(path: string): Promise<AccountJoinKeys[]> {
  const accounts = new Map<
    string,
    { crmCompanyId?: string; crmAt: number; domain?: string; domainAt: number }
  >();
  const touch = (accountId: string) => {
    let entry = accounts.get(accountId);
    if (entry === undefined) {
      entry = { crmAt: Number.NEGATIVE_INFINITY, domainAt: Number.NEGATIVE_INFINITY };
      accounts.set(accountId, entry);
    }
    return entry;
  };
  for await (const chunk of readLines(path)) {
    for (const line of chunk.lines) {
      if (!GROUP_ID.test(line)) continue;
      let message: Record<string, unknown>;
      try {
        message = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (message === null || typeof message !== 'object') continue;
      const context = message['context'] as Record<string, unknown> | undefined;
      const contextGroup = context?.['groupId'];
      if (typeof contextGroup === 'string' && contextGroup !== '') touch(contextGroup);
      if (!GROUP_CALL.test(line)) continue;
      const groupId = message['groupId'];
      const traits = message['traits'] as Record<string, unknown> | undefined;
      if (typeof groupId !== 'string' || groupId === '') continue;
      const entry = touch(groupId);
      const at = Date.parse(String(message['timestamp'] ?? message['sentAt'] ?? ''));
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
  }
  return [...accounts].map(([accountId, e]) => ({
    accountId,
    crmCompanyId: e.crmCompanyId,
    domain: e.domain,
  }));
}
