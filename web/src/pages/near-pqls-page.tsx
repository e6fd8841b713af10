import { useState } from 'preact/hooks';
import type { ClauseJson } from '../components/clause-table.js';
import { StatusLine } from '../components/status-line.js';
import { formatValue, percent } from '../format.js';
import { useApi } from '../use-api.js';

interface NearAnswer {
  readonly nearPqls: readonly {
    readonly accountId: string;
    readonly definitionId: string;
    readonly progress: number;
    readonly missing: readonly string[];
    readonly clauses: readonly ClauseJson[];
  }[];
}

/** Accounts close to qualifying, with what is missing: by default only those one clause away. */
export function NearPqlsPage() {
  const [oneAway, setOneAway] = useState(true);
  const near = useApi<NearAnswer>('/api/near-pqls?limit=500');
  const rows = (near.data?.nearPqls ?? []).filter((n) => !oneAway || n.missing.length === 1);
  return (
    <>
      <h1>Near-PQLs</h1>
      <p class="hint">Accounts that do not qualify yet, closest first, with the clauses they still miss.</p>
      <label>
        <input
          type="checkbox"
          checked={oneAway}
          onChange={(e) => setOneAway((e.target as HTMLInputElement).checked)}
        />{' '}
        only accounts one clause away
      </label>
      <StatusLine loading={near.loading && near.data === undefined} error={near.error} />
      {near.data !== undefined && (
        <table aria-label="Near-PQLs">
          <thead>
            <tr>
              <th scope="col">Account</th>
              <th scope="col">Definition</th>
              <th scope="col" class="num">
                Progress
              </th>
              <th scope="col">Missing</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((n) => (
              <tr key={`${n.accountId}/${n.definitionId}`}>
                <td>
                  <a href={`#/accounts/${encodeURIComponent(n.accountId)}`}>{n.accountId}</a>
                </td>
                <td>{n.definitionId}</td>
                <td class="num">{percent(n.progress)}</td>
                <td>
                  <ul class="why">
                    {n.missing.map((path) => {
                      const clause = n.clauses.find((c) => c.path === path);
                      return (
                        <li key={path}>
                          {clause?.label ?? path}: {formatValue(clause?.value)}{' '}
                          <span class="muted">(needs {clause?.threshold ?? '?'})</span>
                        </li>
                      );
                    })}
                  </ul>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {near.data !== undefined && rows.length === 0 && (
        <p class="empty">No account is that close right now.</p>
      )}
    </>
  );
}
