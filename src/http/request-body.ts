import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { HttpError } from './http-error.js';

/** A decoded request body stream as fastify's body reader expects it: it also reports the encoded bytes read. */
type DecodedStream = Transform & { receivedEncodedLength: number };

/**
 * Wraps a gzip request body in a gunzip stream that fails with 413 as soon as the decoded bytes pass
 * `limit`: a gzip bomb is never inflated beyond the limit (plus one zlib chunk) into memory.
 */
export function gunzipWithLimit(payload: Readable, limit: number): DecodedStream {
  let decoded = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      decoded += chunk.length;
      if (decoded > limit) {
        callback(
          new HttpError(
            413,
            'body_too_large',
            `the decoded body is larger than ${limit} bytes; send smaller batches`,
          ),
        );
        return;
      }
      callback(null, chunk);
    },
  }) as DecodedStream;
  limiter.receivedEncodedLength = 0;
  payload.on('data', (chunk: Buffer) => {
    limiter.receivedEncodedLength += chunk.length;
  });
  const gunzip = createGunzip();
  // Not stream.pipeline: it would destroy the request (and its socket) on error, and the 413 could not be sent.
  const stop = (): void => {
    payload.unpipe(gunzip);
    gunzip.destroy();
    payload.resume(); // discard the rest of the upload
  };
  gunzip.on('error', (error) => {
    stop();
    limiter.destroy(error);
  });
  limiter.on('error', stop);
  payload.pipe(gunzip).pipe(limiter);
  return limiter;
}

/** True when the request body is gzip: `Content-Encoding: gzip`, or PostHog's `?compression=gzip-js`. */
export function isGzipBody(contentEncoding: string | undefined, compression: unknown): boolean {
  if (compression === 'gzip-js' || compression === 'gzip') return true;
  return contentEncoding !== undefined && /^\s*(x-)?gzip\s*$/i.test(contentEncoding);
}
