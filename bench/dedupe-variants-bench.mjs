/* global process, console, performance */
// Dedupe designs for the event log, compared on raw better-sqlite3: N rows (default 1M) in 1,000-row batches,
// one transaction per batch, WAL + NORMAL, 1% redeliveries. Run: node bench/dedupe-variants-bench.mjs <variant>
// where variant is none | unique | hash | hashbatch | lsm (LEVELS, BASE, FACTOR, CACHE, N env vars).
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');

const N = Number(process.env.N ?? 1_000_000),
  B = 1000;
const variant = process.argv[2];
const cache = process.env.CACHE ?? '-2000';
const LEVELS = Number(process.env.LEVELS ?? 2),
  BASE = Number(process.env.BASE ?? 50000),
  FACTOR = Number(process.env.FACTOR ?? 20);
const DIR = process.env.DIR ?? '.pql/bench';
fs.mkdirSync(DIR, { recursive: true });

function hash52(s) {
  let h1 = 0xdeadbeef,
    h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (0xfffff & h2) + (h1 >>> 0);
}

const path = `${DIR}/${variant}.db`;
for (const f of [path, path + '-wal', path + '-shm']) fs.rmSync(f, { force: true });
const db = new Database(path);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma(`cache_size = ${cache}`);
const hashed = variant !== 'unique' && variant !== 'none';
db.exec(
  `CREATE TABLE events (seq INTEGER PRIMARY KEY, message_id TEXT NOT NULL, ${hashed ? 'id_hash INTEGER NOT NULL,' : ''} type TEXT NOT NULL, ts INTEGER NOT NULL, received_at INTEGER NOT NULL, user_id TEXT, anonymous_id TEXT, account_id TEXT, body TEXT NOT NULL)`,
);
db.exec('CREATE INDEX events_ts ON events (ts)');
if (variant === 'unique') db.exec('CREATE UNIQUE INDEX events_mid ON events (message_id)');
if (variant === 'hash' || variant === 'hashbatch') db.exec('CREATE INDEX events_hash ON events (id_hash)');
if (variant === 'lsm')
  for (let l = 0; l < LEVELS; l++)
    db.exec(
      `CREATE TABLE ids_${l} (id_hash INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (id_hash, seq)) WITHOUT ROWID`,
    );
const levelCount = new Array(LEVELS).fill(0);
const cols = 'message_id, type, ts, received_at, user_id, anonymous_id, account_id, body';
const ins = hashed
  ? db.prepare(
      `INSERT INTO events (message_id, id_hash, type, ts, received_at, user_id, anonymous_id, account_id, body) VALUES (?,?,?,?,?,?,?,?,?)`,
    )
  : db.prepare(
      `INSERT ${variant === 'unique' ? 'OR IGNORE' : ''} INTO events (${cols}) VALUES (?,?,?,?,?,?,?,?)`,
    );
const look =
  variant === 'hash' ? db.prepare('SELECT message_id FROM events WHERE id_hash = ?').pluck() : null;
const lookBatch =
  variant === 'hashbatch'
    ? db
        .prepare('SELECT id_hash, message_id FROM events WHERE id_hash IN (SELECT value FROM json_each(?))')
        .raw()
    : null;
const lsmLook =
  variant === 'lsm'
    ? db
        .prepare(
          'SELECT message_id FROM events WHERE seq IN (' +
            Array.from({ length: LEVELS }, (_, l) => `SELECT seq FROM ids_${l} WHERE id_hash = @h`).join(
              ' UNION ALL ',
            ) +
            ')',
        )
        .pluck()
    : null;
const lsmIns = variant === 'lsm' ? db.prepare('INSERT INTO ids_0 (id_hash, seq) VALUES (?, ?)') : null;
const merges =
  variant === 'lsm'
    ? Array.from({ length: LEVELS - 1 }, (_, l) =>
        db.prepare(`INSERT INTO ids_${l + 1} SELECT id_hash, seq FROM ids_${l} ORDER BY id_hash, seq`),
      )
    : [];
const clears =
  variant === 'lsm' ? Array.from({ length: LEVELS - 1 }, (_, l) => db.prepare(`DELETE FROM ids_${l}`)) : [];
function cascade() {
  for (let l = 0; l < LEVELS - 1; l++) {
    if (levelCount[l] < BASE * FACTOR ** l) break;
    merges[l].run();
    clears[l].run();
    levelCount[l + 1] += levelCount[l];
    levelCount[l] = 0;
  }
}

const write = db.transaction((rows) => {
  const out = new Array(rows.length);
  if (variant === 'hashbatch') {
    const hs = rows.map((r) => hash52(r.messageId));
    const found = new Set();
    for (const [, mid] of lookBatch.all(JSON.stringify(hs))) found.add(mid);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (found.has(r.messageId)) {
        out[i] = false;
        continue;
      }
      ins.run(r.messageId, hs[i], r.type, r.ts, r.ts, r.userId, null, r.accountId, r.body);
      found.add(r.messageId);
      out[i] = true;
    }
    return out;
  }
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (variant === 'unique' || variant === 'none') {
      out[i] = ins.run(r.messageId, r.type, r.ts, r.ts, r.userId, null, r.accountId, r.body).changes === 1;
      continue;
    }
    const h = hash52(r.messageId);
    if (variant === 'hash') {
      const ms = look.all(h);
      if (ms.includes(r.messageId)) {
        out[i] = false;
        continue;
      }
      ins.run(r.messageId, h, r.type, r.ts, r.ts, r.userId, null, r.accountId, r.body);
      out[i] = true;
      continue;
    }
    if (variant === 'lsm') {
      const ms = lsmLook.all({ h });
      if (ms.includes(r.messageId)) {
        out[i] = false;
        continue;
      }
      const seq = ins.run(
        r.messageId,
        h,
        r.type,
        r.ts,
        r.ts,
        r.userId,
        null,
        r.accountId,
        r.body,
      ).lastInsertRowid;
      lsmIns.run(h, seq);
      levelCount[0]++;
      out[i] = true;
    }
  }
  if (variant === 'lsm') cascade();
  return out;
});

const pad = 'x'.repeat(250);
let ts = 1_700_000_000_000,
  inserted = 0,
  dupOffered = 0,
  dupRejected = 0,
  elapsed = 0,
  windowMs = 0;
let prev = [];
const marks = [];
for (let b = 0; b < N / B; b++) {
  const rows = [];
  for (let i = 0; i < B; i++) {
    ts += Math.floor(Math.random() * 20);
    const messageId = randomUUID();
    rows.push({
      messageId,
      type: 'track',
      ts,
      userId: 'user-' + (i % 997),
      accountId: 'acct-' + (i % 101),
      body: `{"messageId":"${messageId}","type":"track","event":"API Call Made","properties":{"pad":"${pad}"}}`,
    });
  }
  // 1% redeliveries of earlier messages, to keep the duplicate path honest.
  for (let i = 0; i < 10 && prev.length > 0; i++) rows[i * 100] = prev[(i * 37) % prev.length];
  const t = performance.now();
  const r = write(rows);
  const dt = performance.now() - t;
  elapsed += dt;
  windowMs += dt;
  inserted += r.filter(Boolean).length;
  if (b > 0) {
    dupOffered += 10;
    for (let i = 0; i < 10; i++) if (!r[i * 100]) dupRejected++;
  }
  prev = rows;
  if ((b + 1) % 100 === 0) {
    marks.push(Math.round(100_000 / (windowMs / 1000)));
    windowMs = 0;
  }
}
console.log(
  `${variant}${variant === 'lsm' ? ` levels=${LEVELS} base=${BASE} factor=${FACTOR}` : ''} cache=${cache}: ${inserted} rows in ${(elapsed / 1000).toFixed(1)}s = ${Math.round(N / (elapsed / 1000))} rows/s offered; per 100k: ${marks.join(' ')}; dups rejected ${dupRejected}/${dupOffered}; file ${(fs.statSync(path).size / 1e6).toFixed(0)} MB`,
);
db.close();
for (const f of [path, path + '-wal', path + '-shm']) fs.rmSync(f, { force: true });
