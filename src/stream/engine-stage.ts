import type { PqlBus } from '../bus/pql-bus.js';
import type { VersionedDefinition } from '../core/definitions/definition.js';
import { createEngine, type Engine } from '../core/engine/create-engine.js';
import type { Transition } from '../core/engine/transition.js';
import type { DetectorOptions } from '../runtime/detector.js';
import type { AccountTraitsUpdate, NewAlert, NewEvent, Store } from '../store/store.js';
import type { AccountMessage } from './identity-stage.js';
import { partitionOf } from './partitioning.js';

/** What an engine stage needs: the shared store, the registered definitions and its partition. */
export interface EngineStageOptions {
  readonly store: Store;
  readonly definitions: readonly VersionedDefinition[];
  /** This stage's account partition and the partition count. */
  readonly partition: number;
  readonly partitions: number;
  readonly allowedLatenessMs?: number;
  /** Plans outbox alerts for new PQLs (the detector's alerting hook); nothing alerts without it. */
  readonly alerting?: DetectorOptions['alerting'];
  /** Where committed transitions go live (every node's /api/stream). */
  readonly bus?: PqlBus;
  readonly now?: () => number;
}

/** What one processed batch did. */
export interface EngineBatchResult {
  readonly inserted: number;
  readonly transitions: readonly Transition[];
}

/**
 * The engine stage of one account partition: the pure engine over the accounts that hash to it, writing
 * events, traits, PQLs and the alert outbox to the shared store. Seeded with the stored qualifications of
 * its accounts, so replaying the partition on takeover re-derives state without alerting anything twice.
 */
export class EngineStage {
  readonly engine: Engine;
  private readonly planAlerts: ((transitions: readonly Transition[]) => Promise<NewAlert[]>) | undefined;
  private readonly now: () => number;
  private readonly lateness: number;
  private watermark = Number.NEGATIVE_INFINITY;
  private tickedTo = Number.NEGATIVE_INFINITY;
  private readonly replayed: Transition[] = [];

  private constructor(
    private readonly options: EngineStageOptions,
    qualifications: Parameters<typeof createEngine>[0]['qualifications'],
  ) {
    this.now = options.now ?? Date.now;
    this.lateness = options.allowedLatenessMs ?? 3_600_000;
    this.engine = createEngine({
      definitions: options.definitions,
      allowedLatenessMs: this.lateness,
      ...(qualifications === undefined ? {} : { qualifications }),
    });
    this.planAlerts = options.alerting?.({
      engine: this.engine,
      definitions: options.definitions,
      store: options.store,
    });
  }

  /** Opens the stage with the stored qualifications of its partition's accounts. */
  static async open(options: EngineStageOptions): Promise<EngineStage> {
    const qualifications = (await options.store.loadQualifications()).filter(
      (q) => partitionOf(q.accountId, options.partitions) === options.partition,
    );
    return new EngineStage(options, qualifications);
  }

  /**
   * Applies messages that an earlier owner already committed (up to the consumer's acknowledged floor):
   * state only, nothing written. Transitions they cause are pairs never committed (work lost in a crash
   * between commit and acknowledgement cannot be one: those pairs were restored), kept for `endReplay`.
   */
  replay(messages: readonly AccountMessage[]): void {
    for (const message of messages) {
      for (const t of this.engine.ingestAccountEvent(message.event)) this.replayed.push(t);
      if (message.event.timestamp > this.watermark) this.watermark = message.event.timestamp;
    }
  }

  /** Ends a replay: ticks to the watermark and commits what the replay found that the store lacks. */
  async endReplay(): Promise<readonly Transition[]> {
    for (const t of this.tickToWatermark()) this.replayed.push(t);
    const transitions = this.replayed.splice(0);
    await this.commit(transitions, undefined);
    return transitions;
  }

  /**
   * Writes a batch of new messages (idempotently by messageId), runs them through the engine in order,
   * ticks to the partition's watermark (latest event time minus the allowed lateness) and commits the
   * transitions with their alerts in one transaction. Every message goes through the engine, stored before
   * or not: a redelivered one was never acknowledged, so its effects may be missing from the state.
   */
  async process(messages: readonly AccountMessage[]): Promise<EngineBatchResult> {
    if (messages.length === 0) {
      // Only time moved (noteEventTime): deadlines up to the new watermark may fire.
      const transitions = this.tickToWatermark();
      await this.commit(transitions, undefined);
      return { inserted: 0, transitions };
    }
    const rows: NewEvent[] = messages.map((m) => ({
      messageId: m.event.messageId,
      type: m.event.type,
      timestamp: m.event.timestamp,
      receivedAt: m.receivedAt,
      userId: m.event.userId,
      anonymousId: undefined,
      accountId: m.event.accountId,
      body: m.body,
    }));
    const { inserted } = await this.options.store.appendEvents(rows);
    const transitions: Transition[] = [];
    const traits: AccountTraitsUpdate[] = [];
    let earliest = Number.POSITIVE_INFINITY;
    for (const message of messages) {
      const event = message.event;
      for (const t of this.engine.ingestAccountEvent(event)) transitions.push(t);
      if (event.timestamp > this.watermark) this.watermark = event.timestamp;
      if (message.receivedAt < earliest) earliest = message.receivedAt;
      if (event.type === 'group' && event.traits !== undefined && Object.keys(event.traits).length > 0) {
        traits.push({
          accountId: event.accountId,
          source: 'product',
          effectiveAt: event.timestamp,
          traits: event.traits,
        });
      }
    }
    for (const t of this.tickToWatermark()) transitions.push(t);
    if (traits.length > 0) await this.options.store.updateAccountTraits(traits);
    await this.commit(transitions, Number.isFinite(earliest) ? earliest : undefined);
    return { inserted: inserted.filter(Boolean).length, transitions };
  }

  /**
   * Raises the partition's watermark to an event time seen elsewhere (the latest event any user partition
   * has published, once nothing of this partition waits): the next `process` ticks to it, as one process
   * ticks to the latest event time of everything it has seen.
   */
  noteEventTime(time: number): void {
    if (time > this.watermark) this.watermark = time;
  }

  private tickToWatermark(): readonly Transition[] {
    if (!Number.isFinite(this.watermark) || this.watermark <= this.tickedTo) return [];
    this.tickedTo = this.watermark;
    return this.engine.tick(this.watermark - this.lateness);
  }

  private async commit(transitions: readonly Transition[], receivedAt: number | undefined): Promise<void> {
    if (transitions.length === 0) return;
    const alerts = this.planAlerts === undefined ? [] : await this.planAlerts(transitions);
    const detectedAt = this.now();
    await this.options.store.commitTransitions({ transitions, detectedAt, alerts });
    this.options.bus?.publish(transitions.map((transition) => ({ transition, detectedAt, receivedAt })));
  }
}
