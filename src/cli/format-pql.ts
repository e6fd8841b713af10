import type { ClauseExplanation, Explanation } from '../core/engine/transition.js';

/** ISO-8601 for an epoch-ms time (times are numbers inside, ISO outside). */
export function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

function mark(holds: ClauseExplanation['holds']): string {
  return holds === true ? '✓' : holds === false ? '✗' : '…';
}

function valueText(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(1);
  return JSON.stringify(value);
}

/** Renders an explanation as indented lines, one per clause: `✓ volume: 1100 (sum of properties.count >= 1000 ...)`. */
export function formatExplanation(explanation: Explanation, indent = '    '): string[] {
  return explanation.clauses.map((c) => {
    if (c.path.startsWith('exclude')) {
      // An exclusion that does not hold is what lets the account through.
      const blocked = c.holds === true;
      return `${indent}${blocked ? '✗' : '✓'} not excluded by ${c.label} (${valueText(c.value)})`;
    }
    const label = c.kind === 'trait' ? c.label : `${c.label}: ${valueText(c.value)} (${c.threshold})`;
    const value = c.kind === 'trait' ? ` (${valueText(c.value)})` : '';
    return `${indent}${mark(c.holds)} ${label}${value}`;
  });
}

/** A PQL transition as JSON for `--json` output: ISO times, explanation with ISO times. */
export function pqlJson(pql: {
  accountId: string;
  definitionId: string;
  definitionVersion: number;
  qualifiedAt: number;
  explanation: Explanation;
  triggerEventId?: string | undefined;
}): Record<string, unknown> {
  return {
    accountId: pql.accountId,
    definitionId: pql.definitionId,
    definitionVersion: pql.definitionVersion,
    qualifiedAt: iso(pql.qualifiedAt),
    triggerEventId: pql.triggerEventId ?? null,
    explanation: {
      evaluatedAt: iso(pql.explanation.evaluatedAt),
      holds: pql.explanation.holds,
      missing: pql.explanation.missing,
      clauses: pql.explanation.clauses.map((c) => ({ ...c, firstHeldAt: iso(c.firstHeldAt) })),
    },
  };
}
