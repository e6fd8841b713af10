import { describe, expect, it } from 'vitest';
import { stickyAssignments } from './sticky-assignments.js';

const alert = (accountId: string, detectedAt: number, owner: Record<string, unknown>): unknown => ({
  accountId,
  detectedAt,
  owner,
});

describe('stickyAssignments', () => {
  it("restores each account's latest routing-chosen rep, never a CRM owner or an unassigned alert", () => {
    expect(
      stickyAssignments([
        alert('a', 1, { ownerId: 'o1', reason: 'round-robin', reasonCode: 'round-robin' }),
        alert('a', 3, { ownerId: 'o2', reason: 'territory NA (US)', reasonCode: 'territory' }),
        alert('a', 2, { ownerId: 'o3', reason: 'segment big (900 employees)', reasonCode: 'segment' }),
        // A later CRM-owner alert does not replace the sticky rep: the router never remembers the CRM owner.
        alert('a', 4, { ownerId: 'crm', reason: 'CRM owner Crm', reasonCode: 'crm-owner' }),
        alert('b', 1, { ownerId: 'crm', reason: 'CRM owner Crm', reasonCode: 'crm-owner' }),
        alert('c', 1, { ownerId: undefined, reason: 'no active rep to assign', reasonCode: 'unassigned' }),
        alert('d', 1, {
          ownerId: 'o4',
          reason: 'definition fallback owner O4',
          reasonCode: 'fallback-owner',
        }),
        { not: 'an alert' },
        null,
      ]),
    ).toEqual(
      new Map([
        ['a', 'o2'],
        ['d', 'o4'],
      ]),
    );
  });

  it('reads alerts written before reasonCode by their reason text', () => {
    expect(
      stickyAssignments([
        alert('a', 1, { ownerId: 'o1', reason: 'CRM owner Ana' }),
        alert('b', 1, { ownerId: 'o2', reason: 'CRM owner Ana is away; round-robin' }),
        alert('c', 1, { ownerId: 'o3', reason: 'assigned to Ben before' }),
      ]),
    ).toEqual(
      new Map([
        ['b', 'o2'],
        ['c', 'o3'],
      ]),
    );
  });
});
