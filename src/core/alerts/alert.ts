import type { ClauseExplanation, QualifiedTransition } from '../engine/transition.js';
import type { Assignment, AssignmentReason, Rep } from '../routing/owner-router.js';
import { renderNextStep } from './next-step.js';

/** A person behind a PQL: a user of the account, most active first. The e-mail never goes to logs. */
export interface AlertPerson {
  readonly userId: string;
  readonly email: string | undefined;
  readonly name: string | undefined;
  readonly events: number;
}

/** The account's story for the rep. */
export interface AlertHistory {
  readonly signupAt: number | undefined;
  readonly lastSeenAt: number | undefined;
  readonly activeUsers: number | undefined;
  readonly plan: unknown;
  readonly mrr: unknown;
  readonly lifecycleStage: unknown;
  readonly mqlAt: unknown;
  /** Signals with the time they first held, oldest first. */
  readonly milestones: readonly { readonly label: string; readonly at: number }[];
}

/** One alert, built once and rendered per channel (Slack, webhook). Its id is the PQL id. */
export interface Alert {
  readonly id: string;
  readonly accountId: string;
  readonly accountName: string | undefined;
  readonly domain: string | undefined;
  readonly definitionId: string;
  readonly definitionName: string;
  readonly definitionVersion: number;
  readonly qualifiedAt: number;
  readonly detectedAt: number;
  readonly owner: {
    readonly ownerId: string | undefined;
    readonly name: string | undefined;
    readonly slackUserId: string | undefined;
    /** Why this rep, for people: "CRM owner Ana", "segment enterprise (900 employees)". */
    readonly reason: string;
    /** Why this rep, for code: the router's reason ('crm-owner', 'round-robin', ...). */
    readonly reasonCode: AssignmentReason;
  };
  /** Every signal clause with its value against its threshold. */
  readonly why: readonly ClauseExplanation[];
  /** The fit predicates that matched, with their values. */
  readonly fit: readonly ClauseExplanation[];
  readonly people: readonly AlertPerson[];
  readonly history: AlertHistory;
  readonly nextStep: string | undefined;
  readonly accountUrl: string | undefined;
}

/** What `buildAlert` needs besides the transition. */
export interface AlertInput {
  readonly pqlId: string;
  readonly transition: QualifiedTransition;
  readonly definitionName: string;
  readonly nextStepTemplate: string | undefined;
  readonly detectedAt: number;
  readonly assignment: Assignment;
  readonly rep: Rep | undefined;
  /** Latest account traits (merged view): name, domain, plan, mrr, lifecycle_stage, mql_at... */
  readonly traits: Readonly<Record<string, unknown>>;
  readonly signupAt: number | undefined;
  readonly lastSeenAt: number | undefined;
  readonly people: readonly AlertPerson[];
  /** Base URL of the dashboard, e.g. http://localhost:7070. */
  readonly dashboardUrl: string | undefined;
}

/** Builds the structured alert for a new PQL. */
export function buildAlert(input: AlertInput): Alert {
  const { transition, traits } = input;
  const clauses = transition.explanation.clauses;
  const why = clauses.filter((c) => c.path.startsWith('signals.'));
  const fit = clauses.filter((c) => c.path.startsWith('fit') && c.holds === true);
  const milestones = why
    .flatMap((c) => (c.firstHeldAt === undefined ? [] : [{ label: c.label, at: c.firstHeldAt }]))
    .sort((a, b) => a.at - b.at);
  const users = why.find((c) => c.kind === 'distinct_users');
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const accountName = str(traits['name']);
  return {
    id: input.pqlId,
    accountId: transition.accountId,
    accountName,
    domain: str(traits['domain']),
    definitionId: transition.definitionId,
    definitionName: input.definitionName,
    definitionVersion: transition.definitionVersion,
    qualifiedAt: transition.qualifiedAt,
    detectedAt: input.detectedAt,
    owner: {
      ownerId: input.assignment.ownerId,
      name: input.rep?.name,
      slackUserId: input.rep?.slackUserId,
      reason: input.assignment.detail,
      reasonCode: input.assignment.reason,
    },
    why,
    fit,
    people: [...input.people].sort((a, b) => b.events - a.events),
    history: {
      signupAt: input.signupAt,
      lastSeenAt: input.lastSeenAt,
      activeUsers: typeof users?.value === 'number' ? users.value : input.people.length || undefined,
      plan: traits['plan'],
      mrr: traits['mrr'],
      lifecycleStage: traits['lifecycle_stage'],
      mqlAt: traits['mql_at'],
      milestones,
    },
    nextStep:
      input.nextStepTemplate === undefined
        ? undefined
        : renderNextStep(input.nextStepTemplate, {
            clauses,
            account: {
              id: transition.accountId,
              name: accountName ?? transition.accountId,
              domain: traits['domain'],
            },
            traits,
          }),
    accountUrl:
      input.dashboardUrl === undefined
        ? undefined
        : `${input.dashboardUrl.replace(/\/$/, '')}/#/accounts/${encodeURIComponent(transition.accountId)}`,
  };
}
