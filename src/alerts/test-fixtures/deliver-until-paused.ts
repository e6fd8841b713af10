// Test fixture: commits a PQL with its alert, then starts delivering and pauses forever just before the
// send (the fault-injection point), so the test can kill -9 the process between commit and send.
import { parseDefinition } from '../../core/definitions/parse-definition.js';
import { OwnerRouter } from '../../core/routing/owner-router.js';
import { Detector } from '../../runtime/detector.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { createAlertPlanner } from '../alert-planner.js';
import { channelPlan, createChannels } from '../alerting-config.js';
import { DeliveryWorker } from '../delivery-worker.js';

const [storePath, webhookUrl, secret] = process.argv.slice(2) as [string, string, string];
const source = {
  id: 'calls',
  name: 'Calls',
  signals: { calls: { event: 'API Call Made', count: { gte: 2 } } },
  qualify: 'calls',
};
const parsed = parseDefinition(source);
if (!parsed.ok) throw new Error('bad definition');
const store = SqliteStore.open(storePath);
const channels = createChannels({ webhookUrl, webhookSecret: secret });
const detector = await Detector.open(
  store,
  [{ definition: parsed.value, sourcePath: 'calls.yaml', sourceText: JSON.stringify(source) }],
  {
    alerting: ({ engine, definitions }) =>
      createAlertPlanner({
        store,
        engine,
        definitions,
        router: new OwnerRouter([]),
        reps: new Map(),
        channelsFor: channelPlan(channels),
      }),
  },
);
const T0 = Date.UTC(2026, 0, 5);
await detector.ingest(
  [1, 2].map((n) => ({
    type: 'track' as const,
    messageId: `m${n}`,
    userId: 'u1',
    anonymousId: undefined,
    timestamp: T0 + n,
    contextGroupId: 'acc-1',
    event: 'API Call Made',
    properties: {},
  })),
);
const worker = new DeliveryWorker({
  store,
  channels,
  leaseMs: 500,
  beforeSend: async (alert) => {
    process.stdout.write(`paused ${alert.id}\n`);
    await new Promise(() => undefined);
  },
});
await worker.runOnce();
