import type { AssignmentReason } from '../routing/owner-router.js';

/** The reasons the router remembers an account by; a CRM owner assignment is not sticky (it follows the CRM). */
const STICKY_REASONS: readonly string[] = [
  'sticky',
  'segment',
  'territory',
  'fallback-owner',
  'round-robin',
] satisfies readonly AssignmentReason[];

/**
 * The sticky assignments to restore from alert payloads already in the outbox: per account, the rep of its
 * latest alert (by `detectedAt`) that routing chose rather than the CRM owner. Payloads of alerts written
 * before `owner.reasonCode` existed are judged by their `owner.reason` text; malformed payloads are skipped.
 */
export function stickyAssignments(payloads: Iterable<unknown>): Map<string, string> {
  const latest = new Map<string, { readonly ownerId: string; readonly at: number }>();
  for (const payload of payloads) {
    if (!isRecord(payload) || !isRecord(payload['owner'])) continue;
    const { accountId, detectedAt } = payload;
    const { ownerId, reason, reasonCode } = payload['owner'];
    if (typeof accountId !== 'string' || typeof ownerId !== 'string' || typeof detectedAt !== 'number')
      continue;
    const sticky =
      typeof reasonCode === 'string'
        ? STICKY_REASONS.includes(reasonCode)
        : // Before reasonCode: the CRM owner's reason reads exactly "CRM owner <name>"; other reasons
          // either differ or carry a note after it ("CRM owner Ana is away; round-robin").
          typeof reason === 'string' && !/^CRM owner [^;]*$/.test(reason);
    if (!sticky) continue;
    const seen = latest.get(accountId);
    if (seen === undefined || detectedAt >= seen.at) latest.set(accountId, { ownerId, at: detectedAt });
  }
  return new Map([...latest].map(([accountId, { ownerId }]) => [accountId, ownerId]));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
