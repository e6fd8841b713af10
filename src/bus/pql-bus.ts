import type { Transition } from '../core/engine/transition.js';

/** A committed transition as published: what changed, when it was committed and when its input arrived. */
export interface PublishedTransition {
  readonly transition: Transition;
  /** Wall-clock time the transition was committed, epoch ms. */
  readonly detectedAt: number;
  /** Wall-clock time the request carrying the triggering event was received; undefined for ticks. */
  readonly receivedAt: number | undefined;
}

/** Receives published transitions; must not throw (a throwing listener is isolated and logged by the bus). */
export type PqlListener = (published: readonly PublishedTransition[]) => void;

/**
 * The live-PQL bus port: transitions are published only after they are committed, so a subscriber never
 * sees a PQL the store does not have. In-process here; a NATS-backed bus can replace it in scale-out.
 */
export interface PqlBus {
  /** Hands committed transitions to every subscriber, in commit order. */
  publish(published: readonly PublishedTransition[]): void;
  /** Subscribes a listener; returns the function that unsubscribes it. */
  subscribe(listener: PqlListener): () => void;
  /** Number of current subscribers. */
  subscriberCount(): number;
}
