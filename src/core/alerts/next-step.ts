import type { ClauseExplanation } from '../engine/transition.js';

/** What a next-step template can read: the explanation's signals, the account and its traits. */
export interface NextStepContext {
  readonly clauses: readonly ClauseExplanation[];
  readonly account: Readonly<Record<string, unknown>>;
  readonly traits: Readonly<Record<string, unknown>>;
}

function text(value: unknown): string {
  if (value === undefined || value === null) return '?';
  if (typeof value === 'number')
    return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toFixed(1);
  return String(value);
}

/**
 * Renders a definition's `next_step` template: `{{volume.value}}` (a signal's value; also `.threshold`),
 * `{{account.name}}`, `{{trait.employees}}`. An unknown placeholder renders as `?` rather than failing: a
 * rep still gets the message.
 */
export function renderNextStep(template: string, context: NextStepContext): string {
  return template.replace(
    /\{\{\s*([a-zA-Z_][\w]*)\.([a-zA-Z_][\w.]*)\s*\}\}/g,
    (_match, head: string, field: string) => {
      if (head === 'account') return text(context.account[field]);
      if (head === 'trait') return text(context.traits[field]);
      const clause = context.clauses.find((c) => c.path === `signals.${head}`);
      if (clause === undefined) return '?';
      if (field === 'value') return text(clause.value);
      if (field === 'threshold') return clause.threshold;
      if (field === 'count') return text(clause.eventCount);
      return '?';
    },
  );
}
