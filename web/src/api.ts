/** The admin token is kept in this browser's localStorage until "Log out" (only this origin can read it). */
const TOKEN_KEY = 'pql.adminToken';

export function storedToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function saveToken(token: string): void {
  localStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken(): void {
  localStorage.removeItem(TOKEN_KEY);
}

/** An API answer that was not 2xx, with the server's `{ error: { code, message, path } }` when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly path: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

let onUnauthorized: () => void = () => {};

/** Called when the server rejects the token (401/403): the app goes back to the login screen. */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

/** Calls the API with the admin token; throws ApiError for a non-2xx answer. */
export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${storedToken() ?? ''}` };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  let body: unknown = undefined;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = text;
  }
  if (!response.ok) {
    if (response.status === 401 || response.status === 403) onUnauthorized();
    const error = (body as { error?: { code?: string; message?: string; path?: string } } | undefined)?.error;
    throw new ApiError(
      response.status,
      error?.code ?? 'http_error',
      error?.message ?? `${response.status} ${response.statusText}`,
      error?.path ?? '',
      body,
    );
  }
  return body as T;
}

/** Checks a token against the API without storing it. */
export async function checkToken(token: string): Promise<'ok' | 'forbidden' | 'unreachable'> {
  try {
    const response = await fetch('/api/definitions', { headers: { authorization: `Bearer ${token}` } });
    if (response.ok) return 'ok';
    return response.status === 401 || response.status === 403 ? 'forbidden' : 'unreachable';
  } catch {
    return 'unreachable';
  }
}

/** Opens the live stream of new PQLs (SSE; the token goes in the query since EventSource sends no headers). */
export function openStream(onPql: (data: unknown) => void, onState: (live: boolean) => void): () => void {
  const source = new EventSource(`/api/stream?token=${encodeURIComponent(storedToken() ?? '')}`);
  source.addEventListener('open', () => onState(true));
  source.addEventListener('error', () => onState(false));
  source.addEventListener('pql', (event) => onPql(JSON.parse((event as MessageEvent<string>).data)));
  return () => source.close();
}
