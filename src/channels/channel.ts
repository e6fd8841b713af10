import type { Alert } from '../core/alerts/alert.js';

/** How one send ended, as the delivery worker needs to know it. */
export type SendResult =
  | { readonly kind: 'delivered' }
  /** Worth retrying (5xx, timeout, connection reset, 429); `retryAfterMs` when the receiver said when. */
  | { readonly kind: 'retry'; readonly error: string; readonly retryAfterMs?: number }
  /** The endpoint is gone (HTTP 410): stop sending to it. */
  | { readonly kind: 'gone'; readonly error: string }
  /** The receiver refused this alert for good (other 4xx, bad channel): dead-letter it. */
  | { readonly kind: 'rejected'; readonly error: string };

/** One delivery attempt of an alert. `id` is stable across retries (the idempotency key). */
export interface Delivery {
  readonly id: string;
  readonly alert: Alert;
  /** Channel-specific target: a Slack channel or user id; '' for the channel's configured URL. */
  readonly target: string;
  readonly attempt: number;
}

/** A way to deliver alerts (the channel port). Implementations: `slack/`, `webhook/`. */
export interface Channel {
  readonly name: string;
  /** Paced channels (Slack) get a token bucket per target in the delivery worker. */
  readonly paced: boolean;
  send(delivery: Delivery): Promise<SendResult>;
  /** Sends several alerts for one target as one digest message (paced channels, during a burst). */
  sendDigest?(alerts: readonly Alert[], target: string): Promise<SendResult>;
}

/** Parses a Retry-After header (seconds or an HTTP date) to milliseconds from `now`. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Maps an HTTP response status to a send result. */
export function resultForStatus(status: number, retryAfter: string | null, now: number): SendResult {
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  const error = `HTTP ${status}`;
  if (status === 410) return { kind: 'gone', error };
  if (status === 429 || status === 408 || status >= 500) {
    const after = retryAfterMs(retryAfter, now);
    return after === undefined ? { kind: 'retry', error } : { kind: 'retry', error, retryAfterMs: after };
  }
  return { kind: 'rejected', error };
}

/** POSTs JSON with a timeout; network failures and timeouts become retryable results. */
export async function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  now: () => number,
): Promise<SendResult> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer().catch(() => undefined);
    return resultForStatus(response.status, response.headers.get('retry-after'), now());
  } catch (error) {
    const cause =
      error instanceof Error
        ? error.cause instanceof Error
          ? error.cause.message
          : error.message
        : String(error);
    return { kind: 'retry', error: `network: ${cause}` };
  }
}
