import type { ProductEvent } from '../core/events/event.js';
import type { Definition } from '../core/definitions/definition.js';
import { parseDefinition } from '../core/definitions/parse-definition.js';

/** Hours and days in ms, for readable test times. */
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
/** Monday 2026-01-05T00:00:00Z: the origin of test timelines. */
export const T0 = Date.UTC(2026, 0, 5);

/** Parses a definition object or throws with its issues (tests only). */
export function definition(input: Record<string, unknown>): Definition {
  const parsed = parseDefinition({ id: 'test-def', name: 'Test definition', ...input });
  if (!parsed.ok) throw new Error(parsed.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return parsed.value;
}

let counter = 0;
/** A unique message id. */
export function nextId(prefix = 'm'): string {
  counter++;
  return `${prefix}${counter}`;
}

/** A track event of `userId` in `accountId` (via context.groupId) at time t. */
export function track(
  accountId: string,
  event: string,
  t: number,
  options: { userId?: string; properties?: Record<string, unknown>; messageId?: string } = {},
): ProductEvent {
  return {
    type: 'track',
    messageId: options.messageId ?? nextId(),
    userId: options.userId ?? `${accountId}-u1`,
    anonymousId: undefined,
    timestamp: t,
    contextGroupId: accountId,
    event,
    properties: options.properties ?? {},
  };
}

/** A page view. */
export function page(accountId: string, name: string, t: number, userId = `${accountId}-u1`): ProductEvent {
  return {
    type: 'page',
    messageId: nextId(),
    userId,
    anonymousId: undefined,
    timestamp: t,
    contextGroupId: accountId,
    name,
    properties: {},
  };
}

/** A group call making `userId` a member of `accountId` with traits. */
export function group(
  accountId: string,
  t: number,
  traits: Record<string, unknown> = {},
  userId = `${accountId}-u1`,
): ProductEvent {
  return {
    type: 'group',
    messageId: nextId('g'),
    userId,
    anonymousId: undefined,
    timestamp: t,
    contextGroupId: undefined,
    groupId: accountId,
    traits,
    traitsOnly: false,
  };
}
