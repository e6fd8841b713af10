import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runServe } from './serve-command.js';

describe('pql serve', () => {
  it('starts on the configured port, prints the generated secrets, ingests, and shuts down on request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pql-serve-'));
    const lines: string[] = [];
    let stop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    const previousLevel = process.env['PQL_LOG_LEVEL'];
    process.env['PQL_LOG_LEVEL'] = 'silent';
    try {
      const running = runServe(
        { port: '0', host: '127.0.0.1', dataDir: dir },
        { out: (l) => lines.push(l), err: (l) => lines.push(l) },
        stopped,
      );
      while (!lines.some((l) => l.startsWith('write key'))) await new Promise((r) => setTimeout(r, 20));
      const url = /listening on (\S+)/.exec(lines[0] ?? '')?.[1] ?? '';
      const writeKey =
        lines
          .find((l) => l.startsWith('write key'))
          ?.split(': ')
          .pop() ?? '';
      const admin =
        lines
          .find((l) => l.startsWith('admin token'))
          ?.split(': ')
          .pop() ?? '';
      const answer = await fetch(`${url}/v1/track`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
        },
        body: JSON.stringify({ userId: 'u1', event: 'API Call Made', context: { groupId: 'acc1' } }),
      });
      expect(answer.status).toBe(200);
      const stats = (await (
        await fetch(`${url}/api/stats`, { headers: { authorization: `Bearer ${admin}` } })
      ).json()) as { events: { stored: number } };
      expect(stats.events.stored).toBe(1);
      stop();
      await running;
      expect(lines.at(-1)).toContain('shutting down');
    } finally {
      if (previousLevel === undefined) delete process.env['PQL_LOG_LEVEL'];
      else process.env['PQL_LOG_LEVEL'] = previousLevel;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
