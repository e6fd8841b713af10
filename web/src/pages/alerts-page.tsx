import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import { StatusLine } from '../components/status-line.js';
import { formatTime } from '../format.js';
import { useApi } from '../use-api.js';

interface AlertRow {
  readonly id: string;
  readonly accountId: string | null;
  readonly definitionId: string | null;
  readonly channel: string;
  readonly target: string;
  readonly status: string;
  readonly attempts: number;
  readonly createdAt: string;
  readonly nextAttemptAt: string | null;
  readonly deliveredAt: string | null;
  readonly lastError: string | null;
  readonly possibleDuplicate: boolean;
}

interface JoinCounts {
  readonly subjects: number;
  readonly matchedById: number;
  readonly matchedByDomain: number;
  readonly unmatched: number;
  readonly ambiguous: number;
  readonly freeMail: number;
}

interface JoinAnswer {
  readonly summary: { readonly accounts: number; readonly crm: JoinCounts; readonly billing: JoinCounts };
  readonly unmatched: readonly {
    source: string;
    accountId?: string;
    customerId?: string;
    domain?: string;
    message: string;
  }[];
  readonly ambiguous: readonly {
    source: string;
    accountId?: string;
    customerId?: string;
    domain: string;
    candidates: readonly string[];
  }[];
  readonly companiesWithoutAccount: readonly string[];
}

const STATUSES = ['', 'pending', 'delivered', 'dead', 'disabled'] as const;

/** Alert delivery (status, dead letters, retry) and join health of the CRM and billing sources. */
export function AlertsPage() {
  const [status, setStatus] = useState<string>('');
  const alerts = useApi<{ alerts: readonly AlertRow[]; counts: Readonly<Record<string, number>> }>(
    `/api/dashboard/alerts${status === '' ? '' : `?status=${status}`}`,
  );
  const joins = useApi<JoinAnswer>('/api/joins');
  const [retryMessage, setRetryMessage] = useState<string | null>(null);

  async function retry(id: string) {
    try {
      await api(`/api/dashboard/alerts/${encodeURIComponent(id)}/retry`, { method: 'POST' });
      setRetryMessage(`Alert ${id} is queued again.`);
      alerts.reload();
    } catch (e) {
      setRetryMessage(e instanceof ApiError ? e.message : String(e));
    }
  }

  return (
    <>
      <h1>Alerts &amp; joins</h1>
      <section aria-labelledby="alerts-heading">
        <h2 id="alerts-heading">Alerts</h2>
        {alerts.data !== undefined && (
          <p>
            {Object.entries(alerts.data.counts).map(([s, n]) => (
              <span key={s} class={`status-${s}`}>
                {s}: {n}{' '}
              </span>
            ))}
          </p>
        )}
        <label>
          Show{' '}
          <select
            name="alert-status"
            value={status}
            onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}
          >
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s === '' ? 'all' : s === 'dead' ? 'dead letters' : s}
              </option>
            ))}
          </select>
        </label>
        {retryMessage !== null && <p role="status">{retryMessage}</p>}
        <StatusLine loading={alerts.loading && alerts.data === undefined} error={alerts.error} />
        {alerts.data !== undefined &&
          (alerts.data.alerts.length === 0 ? (
            <p class="empty">
              No alerts{status === '' ? '' : ` with status ${status}`}. Alerts go out when a channel is
              configured.
            </p>
          ) : (
            <table aria-label="Alerts">
              <thead>
                <tr>
                  <th scope="col">Created</th>
                  <th scope="col">Account</th>
                  <th scope="col">Definition</th>
                  <th scope="col">Channel</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="num">
                    Attempts
                  </th>
                  <th scope="col">Delivered / next</th>
                  <th scope="col">Action</th>
                </tr>
              </thead>
              <tbody>
                {alerts.data.alerts.map((a) => (
                  <tr key={a.id}>
                    <td>{formatTime(a.createdAt)}</td>
                    <td>
                      {a.accountId === null ? (
                        '—'
                      ) : (
                        <a href={`#/accounts/${encodeURIComponent(a.accountId)}`}>{a.accountId}</a>
                      )}
                    </td>
                    <td>{a.definitionId ?? '—'}</td>
                    <td>
                      {a.channel} <span class="muted">{a.target}</span>
                    </td>
                    <td class={`status-${a.status}`}>
                      {a.status}
                      {a.possibleDuplicate && <span class="badge">possible duplicate</span>}
                      {a.lastError !== null && <div class="muted">{a.lastError}</div>}
                    </td>
                    <td class="num">{a.attempts}</td>
                    <td>
                      {a.deliveredAt !== null ? formatTime(a.deliveredAt) : formatTime(a.nextAttemptAt)}
                    </td>
                    <td>
                      {(a.status === 'dead' || a.status === 'disabled') && (
                        <button type="button" class="secondary" onClick={() => void retry(a.id)}>
                          Retry
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ))}
      </section>
      <section aria-labelledby="joins-heading">
        <h2 id="joins-heading">Join health</h2>
        {joins.error?.status === 404 ? (
          <p class="empty">
            This server has no live CRM or billing sources (no <code>/api/joins</code>).
          </p>
        ) : (
          <StatusLine loading={joins.loading && joins.data === undefined} error={joins.error} />
        )}
        {joins.data !== undefined && <JoinHealth joins={joins.data} />}
      </section>
    </>
  );
}

function JoinHealth({ joins }: { joins: JoinAnswer }) {
  const rows: readonly (readonly [string, JoinCounts])[] = [
    ['CRM (accounts → companies)', joins.summary.crm],
    ['Billing (customers → accounts)', joins.summary.billing],
  ];
  return (
    <>
      <table aria-label="Join summary">
        <thead>
          <tr>
            <th scope="col">Join</th>
            {['subjects', 'by id', 'by domain', 'unmatched', 'ambiguous', 'free-mail'].map((h) => (
              <th key={h} scope="col" class="num">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map(([label, c]) => (
            <tr key={label}>
              <th scope="row">{label}</th>
              <td class="num">{c.subjects}</td>
              <td class="num">{c.matchedById}</td>
              <td class="num">{c.matchedByDomain}</td>
              <td class="num">{c.unmatched}</td>
              <td class="num">{c.ambiguous}</td>
              <td class="num">{c.freeMail}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="grid2">
        <details>
          <summary>Ambiguous joins ({joins.ambiguous.length})</summary>
          <ul>
            {joins.ambiguous.slice(0, 200).map((a, i) => (
              <li key={i}>
                {a.source}: {a.accountId ?? a.customerId} on {a.domain} → {a.candidates.join(', ')}
              </li>
            ))}
          </ul>
        </details>
        <details>
          <summary>Unmatched ({joins.unmatched.length})</summary>
          <ul>
            {joins.unmatched.slice(0, 200).map((u, i) => (
              <li key={i}>
                {u.source}: {u.message}
              </li>
            ))}
          </ul>
        </details>
      </div>
    </>
  );
}
