import type { PqlBus, PqlListener, PublishedTransition } from './pql-bus.js';

/** A synchronous, in-memory `PqlBus`: publish calls every listener before it returns. */
export class InProcessBus implements PqlBus {
  private readonly listeners = new Set<PqlListener>();

  constructor(private readonly onListenerError: (error: unknown) => void = () => {}) {}

  publish(published: readonly PublishedTransition[]): void {
    if (published.length === 0) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(published);
      } catch (error) {
        // One broken subscriber must not stop the others or the ingest path that published.
        this.onListenerError(error);
      }
    }
  }

  subscribe(listener: PqlListener): () => void {
    // Wrapped so the same function subscribed twice gets two independent subscriptions.
    const own: PqlListener = (p) => listener(p);
    this.listeners.add(own);
    return () => {
      this.listeners.delete(own);
    };
  }

  subscriberCount(): number {
    return this.listeners.size;
  }
}
