// Test fixture: appends 100-event batches to the SQLite store at argv[2] forever, printing
// "committed <batch>" after each append resolves, until the test kills the process with SIGKILL.
import { SqliteStore } from '../sqlite-store.js';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: append-until-killed.ts <database path>');
const store = SqliteStore.open(path);
const base = Date.UTC(2025, 0, 1);
for (let batch = 0; ; batch++) {
  const events = Array.from({ length: 100 }, (_, i) => {
    const messageId = `kill-${batch}-${i}`;
    return {
      messageId,
      type: 'track' as const,
      timestamp: base + batch * 1000 + i,
      receivedAt: base + batch * 1000 + i,
      userId: 'user-1',
      anonymousId: undefined,
      accountId: 'acct-1',
      body: JSON.stringify({ messageId, type: 'track', event: 'API Call Made' }),
    };
  });
  await store.appendEvents(events);
  process.stdout.write(`committed ${batch}\n`);
}
