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
    expect(router.assign('x', {}, { pool: ['b'] })).toEqual({
      ownerId: undefined,
      reason: 'unassigned',
      detail: 'no active rep to assign',
    });
    expect(router.assign('y', {}, { pool: ['a', 'b'] }).ownerId).toBe('a');
  });

  it("uses a definition's segments and territories instead of the global ones, each kind on its own", () => {
    const router = new OwnerRouter([rep('na1', { territory: 'NA' }), rep('ent'), rep('big1'), rep('big2')], {
      segments: [{ name: 'enterprise', minEmployees: 500, maxEmployees: undefined, owners: ['ent'] }],
      territories: [{ territory: 'NA', countries: ['US'] }],
    });
    const segments = [
      { name: 'enterprise', minEmployees: 1000, maxEmployees: undefined, owners: ['big1', 'big2'] },
    ];
    expect(router.assign('a', { employees: 2000, country: 'US' }, { segments })).toEqual({
      ownerId: 'big1',
      reason: 'segment',
      detail: 'segment enterprise (2000 employees)',
    });
    // Below the definition's 1000 the global enterprise segment (500+) does not apply; global territories do.
    expect(router.assign('b', { employees: 700, country: 'US' }, { segments })).toMatchObject({
      ownerId: 'na1',
      reason: 'territory',
    });
    // An empty list turns that kind of rule off for the definition.
    expect(
      router.assign('c', { employees: 700, country: 'US' }, { segments: [], territories: [] }),
    ).toMatchObject({ reason: 'round-robin' });
    expect(router.assign('d', { employees: 700, country: 'US' })).toMatchObject({
      ownerId: 'ent',
      reason: 'segment',
    });
  });

  it('gives the fallback owner what no rule matched, sticky; an away fallback owner falls back to round-robin', () => {
    const router = new OwnerRouter([rep('na1', { territory: 'NA' }), rep('f'), rep('g', { away: true })], {
      segments: [],
      territories: [{ territory: 'NA', countries: ['US'] }],
    });
    expect(router.assign('us', { country: 'US' }, { fallbackOwner: 'f' })).toMatchObject({
      ownerId: 'na1',
      reason: 'territory',
    });
    expect(router.assign('br', { country: 'BR' }, { fallbackOwner: 'f' })).toEqual({
      ownerId: 'f',
      reason: 'fallback-owner',
      detail: 'definition fallback owner F',
    });
    expect(router.assign('br', { country: 'BR' })).toMatchObject({ ownerId: 'f', reason: 'sticky' });
    expect(router.assign('fr', { country: 'FR' }, { fallbackOwner: 'g' })).toEqual({
      ownerId: 'na1',
      reason: 'round-robin',
      detail: 'fallback owner G is away; round-robin',
    });
  });

  it('keeps restored sticky assignments, unless the CRM owner is known and active', () => {
    const router = new OwnerRouter([rep('a'), rep('b')]);
    router.restoreSticky([['acc', 'b']]);
    expect(router.assign('acc', {})).toEqual({
      ownerId: 'b',
      reason: 'sticky',
      detail: 'assigned to B before',
    });
    expect(router.assign('acc', { owner: 'a' })).toMatchObject({ ownerId: 'a', reason: 'crm-owner' });
  });
});
