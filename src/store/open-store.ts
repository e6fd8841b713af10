import { join } from 'node:path';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** Where to keep PQL's data: the data directory, and optionally a store URL (`PQL_STORE` / `store:`). */
export interface StoreSpec {
  readonly dataDir: string;
  /**
   * Undefined or `sqlite`: the embedded SQLite file `<dataDir>/pql.sqlite`. A `postgres://` (or
   * `postgresql://`) URL: the PostgreSQL store; a `schema` query parameter picks the schema (default `pql`).
   */
  readonly store?: string | undefined;
  /** SQLite synchronous mode (ignored by PostgreSQL, whose commits are durable per its own settings). */
  readonly synchronous?: 'NORMAL' | 'FULL';
}

/** Thrown when the store setting is neither `sqlite` nor a PostgreSQL URL. */
export class StoreSpecError extends Error {
  /** Creates the error for the unusable `store` value. */
  constructor(readonly value: string) {
    super(`store: expected "sqlite" or a postgres:// URL, got ${JSON.stringify(redact(value))}`);
    this.name = 'StoreSpecError';
  }
}

/** Opens the store a spec names: SQLite in the data directory by default, PostgreSQL for a postgres:// URL. */
export async function openStore(spec: StoreSpec): Promise<Store> {
  const store = spec.store?.trim();
  if (store === undefined || store === '' || store === 'sqlite') {
    return SqliteStore.open(
      join(spec.dataDir, 'pql.sqlite'),
      spec.synchronous === undefined ? {} : { synchronous: spec.synchronous },
    );
  }
  if (!/^postgres(ql)?:\/\//.test(store)) throw new StoreSpecError(store);
  const url = new URL(store);
  const schema = url.searchParams.get('schema') ?? undefined;
  url.searchParams.delete('schema');
  return PostgresStore.open({
    connectionString: url.toString(),
    ...(schema === undefined ? {} : { schema }),
  });
}

/** A store setting fit for logs: a URL's password replaced by `***`. */
export function describeStore(spec: StoreSpec): string {
  const store = spec.store?.trim();
  if (store === undefined || store === '' || store === 'sqlite') return join(spec.dataDir, 'pql.sqlite');
  return redact(store);
}

function redact(value: string): string {
  return value.replace(/^(\w+:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}
