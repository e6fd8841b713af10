import type { ApiError } from '../api.js';

/** What a page shows while it loads or when its read failed. */
export function StatusLine({ loading, error }: { loading: boolean; error: ApiError | undefined }) {
  if (error !== undefined)
    return (
      <p role="alert" class="error">
        {error.message}
        {error.path === '' ? '' : ` (${error.path})`}
      </p>
    );
  if (loading) return <p class="muted">Loading…</p>;
  return null;
}
