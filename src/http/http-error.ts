/** An error answered as `{ error: { code, message, path } }` with its HTTP status (the one translation point). */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly path = '',
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** The JSON body of an error answer. */
export function errorBody(
  code: string,
  message: string,
  path = '',
): { error: { code: string; message: string; path: string } } {
  return { error: { code, message, path } };
}
