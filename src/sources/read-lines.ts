import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

/** A chunk of lines of a text file, with the 1-based number of its first line and bytes read so far. */
export interface LineChunk {
  readonly lines: readonly string[];
  readonly firstLineNumber: number;
  readonly bytesRead: number;
  readonly totalBytes: number;
}

/**
 * Streams a text file as chunks of lines (no line is ever split), so large NDJSON files are read with
 * bounded memory. A trailing '\r' is removed (CRLF files); the empty last line after a final newline is not
 * yielded.
 */
export async function* readLines(path: string, chunkBytes = 1 << 20): AsyncGenerator<LineChunk> {
  const totalBytes = (await stat(path)).size;
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: chunkBytes });
  let carry = '';
  let lineNumber = 1;
  let bytesRead = 0;
  for await (const piece of stream as AsyncIterable<string>) {
    bytesRead = stream.bytesRead;
    const text = carry + piece;
    const lines = text.split('\n');
    carry = lines.pop() ?? '';
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      if (line.endsWith('\r')) lines[i] = line.slice(0, -1);
    }
    if (lines.length > 0) {
      yield { lines, firstLineNumber: lineNumber, bytesRead, totalBytes };
      lineNumber += lines.length;
    }
  }
  if (carry !== '') {
    yield {
      lines: [carry.endsWith('\r') ? carry.slice(0, -1) : carry],
      firstLineNumber: lineNumber,
      bytesRead: totalBytes,
      totalBytes,
    };
  }
}
