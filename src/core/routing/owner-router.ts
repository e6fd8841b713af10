/** A sales rep who can receive PQLs (from CRM owners.csv). */
export interface Rep {
  readonly ownerId: string;
  readonly name: string;
  readonly email: string | undefined;
  readonly slackUserId: string | undefined;
  readonly territory: string | undefined;
  /** Share of round-robin assignments relative to other reps (default 1). */
  readonly weight: number;
  /** Away reps get no new round-robin or rule assignments. */
  readonly away: boolean;
}

/** Accounts in these countries go to reps of this territory. */
export interface TerritoryRule {
  readonly territory: string;
  readonly countries: readonly string[];
}

/** Accounts with employees in [minEmployees, maxEmployees] go to these owners. */
export interface SegmentRule {
  readonly name: string;
  readonly minEmployees: number | undefined;
  readonly maxEmployees: number | undefined;
  readonly owners: readonly string[];
}

/** Routing rules, global or per definition. */
export interface RoutingRules {
  readonly territories: readonly TerritoryRule[];
  readonly segments: readonly SegmentRule[];
}

/**
 * What a definition's `route` changes for one assignment; an absent field keeps the router's own. Its
 * territories or segments replace the global ones (an empty list turns that kind of rule off).
 */
export interface RouteOverrides {
  readonly territories?: readonly TerritoryRule[] | undefined;
  readonly segments?: readonly SegmentRule[] | undefined;
  /** Round-robin among these reps instead of every active rep (`fallback.round_robin`). */
  readonly pool?: readonly string[] | undefined;
  /** This rep instead of a round-robin when no rule matched (`fallback.owner`); skipped while away. */
  readonly fallbackOwner?: string | undefined;
}

/** Why an account went to whom. */
export type AssignmentReason =
  'crm-owner' | 'sticky' | 'segment' | 'territory' | 'fallback-owner' | 'round-robin' | 'unassigned';

/** The rep an account's PQL goes to, with the reason (shown on the PQL and in the alert). */
export interface Assignment {
  readonly ownerId: string | undefined;
  readonly reason: AssignmentReason;
  readonly detail: string;
}

/** What routing reads from the merged account view. */
export interface RoutingTraits {
  readonly owner?: unknown;
  readonly country?: unknown;
  readonly employees?: unknown;
}

/**
 * Assigns PQLs to reps: the account's CRM owner; else segment rules (employee range), then territory rules
 * (country), global or the definition's; else the definition's fallback owner, or a smooth weighted
 * round-robin among active reps (or the definition's pool); every assignment but the CRM owner's is sticky
 * per account, so one account keeps landing with the same rep. Deterministic: same inputs, same assignments.
 */
export class OwnerRouter {
  private readonly reps = new Map<string, Rep>();
  private readonly sticky = new Map<string, string>();
  private readonly currentWeights = new Map<string, number>();

  constructor(
    reps: readonly Rep[],
    private readonly rules: RoutingRules = { territories: [], segments: [] },
  ) {
    this.setReps(reps);
  }

  /** Replaces the reps (a CRM owners upsert): later assignments see the new names, territories and away flags. */
  setReps(reps: readonly Rep[]): void {
    this.reps.clear();
    for (const rep of reps) this.reps.set(rep.ownerId, rep);
  }

  /** Previously made sticky assignments (from the store), so restarts keep them. */
  restoreSticky(assignments: Iterable<readonly [accountId: string, ownerId: string]>): void {
    for (const [accountId, ownerId] of assignments) this.sticky.set(accountId, ownerId);
  }

  /** Assigns an account, with the definition's rules and fallback when given (`overrides`). */
  assign(accountId: string, traits: RoutingTraits, overrides: RouteOverrides = {}): Assignment {
    const crmOwner = typeof traits.owner === 'string' && traits.owner !== '' ? traits.owner : undefined;
    let awayNote = '';
    if (crmOwner !== undefined) {
      const rep = this.reps.get(crmOwner);
      if (rep !== undefined && !rep.away)
        return this.remember(accountId, crmOwner, 'crm-owner', `CRM owner ${rep.name}`);
      awayNote =
        rep === undefined ? `CRM owner ${crmOwner} is not a known rep; ` : `CRM owner ${rep.name} is away; `;
    }
    const stuck = this.sticky.get(accountId);
    const stuckRep = stuck === undefined ? undefined : this.reps.get(stuck);
    if (stuckRep !== undefined && !stuckRep.away) {
      return {
        ownerId: stuckRep.ownerId,
        reason: 'sticky',
        detail: `${awayNote}assigned to ${stuckRep.name} before`,
      };
    }
    const employees = typeof traits.employees === 'number' ? traits.employees : Number(traits.employees);
    for (const segment of overrides.segments ?? this.rules.segments) {
      if (!Number.isFinite(employees)) break;
      if (segment.minEmployees !== undefined && employees < segment.minEmployees) continue;
      if (segment.maxEmployees !== undefined && employees > segment.maxEmployees) continue;
      // Keyed by the owners too: a definition's "enterprise" segment rotates apart from the global one.
      const picked = this.pick(`segment:${segment.name}:${segment.owners.join(',')}`, segment.owners);
      if (picked !== undefined)
        return this.remember(
          accountId,
          picked.ownerId,
          'segment',
          `${awayNote}segment ${segment.name} (${employees} employees)`,
        );
    }
    const country = typeof traits.country === 'string' ? traits.country.toUpperCase() : undefined;
    const territories = overrides.territories ?? this.rules.territories;
    const territory =
      country === undefined ? undefined : territories.find((t) => t.countries.includes(country));
    if (territory !== undefined) {
      const owners = [...this.reps.values()]
        .filter((r) => r.territory === territory.territory)
        .map((r) => r.ownerId);
      const picked = this.pick(`territory:${territory.territory}`, owners);
      if (picked !== undefined)
        return this.remember(
          accountId,
          picked.ownerId,
          'territory',
          `${awayNote}territory ${territory.territory} (${country})`,
        );
    }
    if (overrides.fallbackOwner !== undefined) {
      const rep = this.reps.get(overrides.fallbackOwner);
      if (rep !== undefined && !rep.away)
        return this.remember(
          accountId,
          rep.ownerId,
          'fallback-owner',
          `${awayNote}definition fallback owner ${rep.name}`,
        );
      awayNote +=
        rep === undefined
          ? `fallback owner ${overrides.fallbackOwner} is not a known rep; `
          : `fallback owner ${rep.name} is away; `;
    }
    const candidates = overrides.pool ?? [...this.reps.keys()];
    const picked = this.pick(`pool:${candidates.join(',')}`, candidates);
    if (picked !== undefined)
      return this.remember(accountId, picked.ownerId, 'round-robin', `${awayNote}round-robin`);
    return { ownerId: undefined, reason: 'unassigned', detail: `${awayNote}no active rep to assign` };
  }

  private remember(accountId: string, ownerId: string, reason: AssignmentReason, detail: string): Assignment {
    if (reason !== 'crm-owner') this.sticky.set(accountId, ownerId);
    return { ownerId, reason, detail };
  }

  /** Smooth weighted round-robin over the active reps of `owners` (per pool key). */
  private pick(pool: string, owners: readonly string[]): Rep | undefined {
    let total = 0;
    let best: Rep | undefined;
    let bestWeight = Number.NEGATIVE_INFINITY;
    for (const ownerId of owners) {
      const rep = this.reps.get(ownerId);
      if (rep === undefined || rep.away || rep.weight <= 0) continue;
      total += rep.weight;
      const key = `${pool}\u0000${ownerId}`;
      const current = (this.currentWeights.get(key) ?? 0) + rep.weight;
      this.currentWeights.set(key, current);
      if (current > bestWeight) {
        bestWeight = current;
        best = rep;
      }
    }
    if (best !== undefined) {
      const key = `${pool}\u0000${best.ownerId}`;
      this.currentWeights.set(key, (this.currentWeights.get(key) ?? 0) - total);
    }
    return best;
  }
}
