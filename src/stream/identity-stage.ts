import type { AccountEvent, ProductEvent } from '../core/events/event.js';
import { IdentityResolver } from '../core/identity/identity-resolver.js';

/** An attributed event as the identity stage republishes it to its account's partition. */
export interface AccountMessage {
  /** The engine's input: the event with its account and canonical user. */
  readonly event: AccountEvent;
  /** The original message (canonical Segment-spec JSON), written to the shared event log. */
  readonly body: string;
  /** When the ingest node received it, epoch ms. */
  readonly receivedAt: number;
}

interface Held {
  readonly body: string;
  readonly receivedAt: number;
}

/**
 * The identity stage of one user partition: resolves product events to account events (the same
 * `IdentityResolver` the embedded engine runs) and keeps the original bodies of events that wait for their
 * user's first account, so a later release republishes them whole. Deterministic: the same input order
 * gives the same output, which is what lets a new owner rebuild it by replaying the partition.
 */
export class IdentityStage {
  private readonly resolver: IdentityResolver;
  private readonly held = new Map<string, Held>();

  constructor(options: { readonly maxPendingPerUser?: number } = {}) {
    this.resolver = new IdentityResolver(
      options.maxPendingPerUser === undefined ? {} : { maxPendingPerUser: options.maxPendingPerUser },
    );
  }

  /** Resolves one event; returns the account messages to publish (none, this one, or released ones too). */
  resolve(event: ProductEvent, body: string, receivedAt: number): readonly AccountMessage[] {
    const resolved = this.resolver.resolve(event);
    let self = false;
    const out: AccountMessage[] = [];
    for (const accountEvent of resolved) {
      if (accountEvent.messageId === event.messageId) {
        self = true;
        out.push({ event: accountEvent, body, receivedAt });
        continue;
      }
      const held = this.held.get(accountEvent.messageId);
      if (held === undefined) continue; // dropped from the resolver's bounded buffer meanwhile
      this.held.delete(accountEvent.messageId);
      out.push({ event: accountEvent, body: held.body, receivedAt: held.receivedAt });
    }
    if (!self && event.type !== 'alias') this.held.set(event.messageId, { body, receivedAt });
    if (this.held.size > 2 * (this.resolver.stats().pendingEvents + 1000)) this.prune();
    return out;
  }

  /** Events waiting for their user's first account. */
  pendingEvents(): number {
    return this.resolver.stats().pendingEvents;
  }

  /** Bodies of events the resolver dropped from its buffer are forgotten here too (oldest first). */
  private prune(): void {
    let excess = this.held.size - this.resolver.stats().pendingEvents;
    for (const key of this.held.keys()) {
      if (excess-- <= 0) break;
      this.held.delete(key);
    }
  }
}
