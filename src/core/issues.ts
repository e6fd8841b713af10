/** A problem found in input data or a definition, located by a dotted field path (`signals.volume.window`). */
export interface Issue {
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

/** The result of parsing untrusted input: the value, or every issue found (never an exception). */
export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly Issue[] };

/** Creates an issue; `path` is '' for the whole input. */
export function createIssue(path: string, code: string, message: string): Issue {
  return { path, code, message };
}

/** Joins a parent path and a key or index into a dotted path (`a.b`, `a[0]`). */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return parent === '' ? key : `${parent}.${key}`;
}
