import { createEngine, type Engine } from '../core/engine/create-engine.js';
import type { Transition } from '../core/engine/transition.js';
import type { ProductEvent, TraitChange } from '../core/events/event.js';
import { parseEvent, serializeEvent } from '../core/events/parse-event.js';
import type { VersionedDefinition } from '../core/definitions/definition.js';
import type { LoadedDefinition } from '../config/definition-files.js';
import type { AccountTraitsUpdate, NewAlert, NewEvent, Store } from '../store/store.js';

/** Options of a detector. */
export interface DetectorOptions {
  readonly allowedLatenessMs?: number;
  /** Wall clock, injected so tests can fix it. */
  readonly now?: () => number;
  /** Called with the number of events replayed so far while rebuilding state on open. */
  readonly onRebuildProgress?: (replayed: number, total: number) => void;
  /**
   * Turns new PQLs into outbox alerts, committed with them (see src/alerts/alert-planner.ts). Without it
   * nothing alerts: imports and backfills stay silent unless asked. On open, only PQLs that were never
   * committed before (a new definition version, or a crash between storing events and committing) alert.
   */
  readonly alerting?: (context: {
    readonly engine: Engine;
    readonly definitions: readonly VersionedDefinition[];
    readonly store: Store;
  }) => (transitions: readonly Transition[]) => Promise<NewAlert[]>;
}

/** What one ingested batch did. */
export interface IngestResult {
  readonly inserted: number;
  readonly duplicates: number;
  readonly transitions: readonly Transition[];
}

/** Converts a parsed event to the row the store appends; `body` defaults to the canonical serialization. */
export function toNewEvent(event: ProductEvent, receivedAt: number, body?: string): NewEvent {
  return {
    messageId: event.messageId,
    type: event.type,
    timestamp: event.timestamp,
    receivedAt,
    userId: event.userId,
    anonymousId: event.anonymousId,
    accountId: event.type === 'group' ? event.groupId : event.contextGroupId,
    body: body ?? serializeEvent(event),
  };
}

/**
 * Wires the pure engine to a store: each batch is made durable first, then detected, and its transitions
 * are committed with a checkpoint. On open, state is rebuilt by replaying the stored log in time order,
 * seeded with the stored qualifications, so a restart never qualifies anything twice.
 */
export class Detector {
  private constructor(
    readonly store: Store,
    readonly engine: Engine,
    readonly definitions: readonly VersionedDefinition[],
    private readonly now: () => number,
    private readonly planAlerts:
      ((transitions: readonly Transition[]) => Promise<NewAlert[]>) | undefined = undefined,
  ) {}

  /** Commits transitions with their alerts (when alerting is on) in one transaction. */
  private async commit(transitions: readonly Transition[]): Promise<void> {
    const alerts = this.planAlerts === undefined ? [] : await this.planAlerts(transitions);
    await this.store.commitTransitions({ transitions, detectedAt: this.now(), alerts });
  }

  /** Registers the definitions (a changed one gets a new version), rebuilds state and returns the detector. */
  static async open(
    store: Store,
    loaded: readonly LoadedDefinition[],
    options: DetectorOptions = {},
  ): Promise<Detector> {
    const now = options.now ?? Date.now;
    const definitions: VersionedDefinition[] = [];
    for (const item of loaded) {
      const version = await store.registerDefinition(
        item.definition.id,
        item.definition.contentHash,
        item.sourceText,
        now(),
      );
      definitions.push({ definition: item.definition, version });
    }
    const engine = createEngine({
      definitions,
      qualifications: await store.loadQualifications(),
      ...(options.allowedLatenessMs === undefined ? {} : { allowedLatenessMs: options.allowedLatenessMs }),
    });
    const planAlerts = options.alerting?.({ engine, definitions, store });
    const detector = new Detector(store, engine, definitions, now, planAlerts);
    await detector.rebuild(options.onRebuildProgress);
    return detector;
  }

  private async rebuild(onProgress: ((replayed: number, total: number) => void) | undefined): Promise<void> {
    const total = await this.store.countEvents();
    // CRM and billing trait changes replay in time order with the events, as they happened.
    const traitChanges = await this.store.readTraitChanges();
    if (total === 0 && traitChanges.length === 0) return;
    let replayed = 0;
    let maxSeq = 0;
    let maxTime = Number.NEGATIVE_INFINITY;
    const transitions: Transition[] = [];
    let nextChange = 0;
    const applyChangesUpTo = (time: number): void => {
      while (
        nextChange < traitChanges.length &&
        (traitChanges[nextChange] as TraitChange).effectiveAt <= time
      ) {
        for (const t of this.engine.applyTraits(traitChanges[nextChange] as TraitChange)) transitions.push(t);
        nextChange++;
      }
    };
    for await (const batch of this.store.readEvents({ order: 'time' })) {
      for (const row of batch) {
        const parsed = parseEvent(JSON.parse(row.body));
        if (!parsed.ok) continue;
        applyChangesUpTo(parsed.value.timestamp);
        for (const t of this.engine.ingest(parsed.value)) transitions.push(t);
        if (row.seq > maxSeq) maxSeq = row.seq;
        if (row.timestamp > maxTime) maxTime = row.timestamp;
      }
      replayed += batch.length;
      onProgress?.(replayed, total);
    }
    applyChangesUpTo(Number.POSITIVE_INFINITY);
    if (Number.isFinite(maxTime)) for (const t of this.engine.tick(maxTime)) transitions.push(t);
    // Only pairs that never qualified before (a new definition version, or work lost in a crash) emit here,
    // so with alerting on they are alerted like live ones; everything that qualified before stays silent.
    const alerts = this.planAlerts === undefined ? [] : await this.planAlerts(transitions);
    await this.store.commitTransitions({
      transitions,
      detectedAt: this.now(),
      checkpointSeq: maxSeq,
      alerts,
    });
  }

  /**
   * Stores a batch durably, then runs the new events through the engine and commits the transitions.
   * `bodies[i]`, when given, is the message exactly as received (an import line), stored instead of a
   * re-serialization; it must parse back to `events[i]`.
   */
  async ingest(
    events: readonly ProductEvent[],
    receivedAt = this.now(),
    bodies?: readonly string[],
  ): Promise<IngestResult> {
    const { inserted } = await this.store.appendEvents(
      events.map((e, i) => toNewEvent(e, receivedAt, bodies?.[i])),
    );
    const transitions: Transition[] = [];
    const traits: AccountTraitsUpdate[] = [];
    let count = 0;
    events.forEach((event, i) => {
      if (!inserted[i]) return;
      count++;
      for (const t of this.engine.ingest(event)) transitions.push(t);
      if (event.type === 'group' && Object.keys(event.traits).length > 0) {
        traits.push({
          accountId: event.groupId,
          source: 'product',
          effectiveAt: event.timestamp,
          traits: event.traits,
        });
      }
    });
    if (traits.length > 0) await this.store.updateAccountTraits(traits);
    if (transitions.length > 0) await this.commit(transitions);
    return { inserted: count, duplicates: events.length - count, transitions };
  }

  /**
   * Applies CRM or billing trait changes (each at its effective time), stores them as account traits and
   * commits the transitions they cause (e.g. an `exclude: paying` now blocking). Not in the event log:
   * a restart does not replay them (see docs/sources.md).
   */
  async applyTraitChanges(changes: readonly TraitChange[]): Promise<readonly Transition[]> {
    if (changes.length === 0) return [];
    // Durable first (the trait log is what a restart replays), then applied once: a repeat changes nothing.
    const { inserted } = await this.store.appendTraitChanges(changes);
    const fresh = changes.filter((_, i) => inserted[i]);
    const transitions: Transition[] = [];
    for (const change of fresh) for (const t of this.engine.applyTraits(change)) transitions.push(t);
    if (fresh.length > 0)
      await this.store.updateAccountTraits(
        fresh.map((c) => ({
          accountId: c.accountId,
          source: c.source,
          effectiveAt: c.effectiveAt,
          traits: c.traits,
        })),
      );
    if (transitions.length > 0) await this.commit(transitions);
    return transitions;
  }

  /** Advances event time to `now` (deadlines, expiry) and commits what it causes. */
  async tick(now: number): Promise<readonly Transition[]> {
    const transitions = this.engine.tick(now);
    if (transitions.length > 0) await this.commit(transitions);
    return transitions;
  }
}
