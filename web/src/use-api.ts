import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, ApiError } from './api.js';

/** The state of one API read: its answer, an error to show, and how to read it again. */
export interface ApiState<T> {
  readonly data: T | undefined;
  readonly error: ApiError | undefined;
  readonly loading: boolean;
  reload(): void;
}

/** Reads `path` (again whenever it changes); `null` reads nothing. */
export function useApi<T>(path: string | null): ApiState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let current = true;
    setLoading(true);
    api<T>(path)
      .then((answer) => {
        if (!current) return;
        setData(answer);
        setError(undefined);
      })
      .catch((e: unknown) => {
        if (!current) return;
        setError(e instanceof ApiError ? e : new ApiError(0, 'unreachable', String(e), '', undefined));
      })
      .finally(() => {
        if (current) setLoading(false);
      });
    return () => {
      current = false;
    };
  }, [path, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { data, error, loading, reload };
}
