import { describe, expect, it } from 'vitest';
import { renderNextStep } from './next-step.js';
import type { ClauseExplanation } from '../engine/transition.js';

const volume: ClauseExplanation = {
  path: 'signals.volume',
  label: 'volume',
  kind: 'sum',
  holds: true,
  value: 1347,
  threshold: 'sum of properties.count >= 1000 in the last 30d',
  eventIds: [],
  eventCount: 12,
  firstHeldAt: undefined,
  progress: 1,
};

describe('renderNextStep', () => {
  it('fills signal values, account fields and traits, and marks unknown placeholders with ?', () => {
    expect(
      renderNextStep(
        'Call {{account.name}} ({{trait.employees}} people): {{volume.value}} events over {{ volume.count }} batches; {{nope.value}}',
        {
          clauses: [volume],
          account: { name: 'Acme' },
          traits: { employees: 42 },
        },
      ),
    ).toBe('Call Acme (42 people): 1,347 events over 12 batches; ?');
  });
});
