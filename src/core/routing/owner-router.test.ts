import { describe, expect, it } from 'vitest';
import { OwnerRouter, type Rep } from './owner-router.js';

const rep = (ownerId: string, options: Partial<Rep> = {}): Rep => ({
  ownerId,
  name: ownerId.toUpperCase(),
  email: undefined,
  slackUserId: undefined,
  territory: undefined,
  weight: 1,
  away: false,
  ...options,
});

describe('OwnerRouter', () => {
  it('routes to the CRM owner first, and says so', () => {
    const router = new OwnerRouter([rep('o1'), rep('o2')]);
    expect(router.assign('a', { owner: 'o2' })).toEqual({
      ownerId: 'o2',
      reason: 'crm-owner',
      detail: 'CRM owner O2',
    });
  });

  it('skips an away CRM owner and falls back, naming why', () => {
    const router = new OwnerRouter([rep('o1', { away: true }), rep('o2')]);
    expect(router.assign('a', { owner: 'o1' })).toEqual({
      ownerId: 'o2',
      reason: 'round-robin',
      detail: 'CRM owner O1 is away; round-robin',
    });
  });

  it('applies segment rules, then territory rules, then round-robin', () => {
    const router = new OwnerRouter(
      [rep('na1', { territory: 'NA' }), rep('eu1', { territory: 'EMEA' }), rep('ent')],
      {
        segments: [{ name: 'enterprise', minEmployees: 500, maxEmployees: undefined, owners: ['ent'] }],
        territories: [
          { territory: 'NA', countries: ['US', 'CA'] },
          { territory: 'EMEA', countries: ['DE', 'GB'] },
        ],
      },
    );
    expect(router.assign('big', { employees: 900, country: 'US' })).toMatchObject({
      ownerId: 'ent',
      reason: 'segment',
    });
    expect(router.assign('de', { employees: 20, country: 'de' })).toMatchObject({
      ownerId: 'eu1',
      reason: 'territory',
    });
    expect(router.assign('br', { employees: 20, country: 'BR' })).toMatchObject({ reason: 'round-robin' });
  });

  it('round-robin honours weights, skips away reps and is sticky per account', () => {
    const router = new OwnerRouter([rep('a', { weight: 2 }), rep('b'), rep('c', { away: true })]);
    const owners = ['x1', 'x2', 'x3', 'x4', 'x5', 'x6'].map((id) => router.assign(id, {}).ownerId);
    expect(owners).toEqual(['a', 'b', 'a', 'a', 'b', 'a']);
    expect(router.assign('x2', {})).toEqual({
      ownerId: 'b',
      reason: 'sticky',
      detail: 'assigned to B before',
    });
  });

  it('uses the definition pool when given, and reports unassigned when nobody is active', () => {
    const router = new OwnerRouter([rep('a'), rep('b', { away: true })]);
    expect(router.assign('x', {}, ['b'])).toEqual({
      ownerId: undefined,
      reason: 'unassigned',
      detail: 'no active rep to assign',
    });
    expect(router.assign('y', {}, ['a', 'b']).ownerId).toBe('a');
  });
});
