import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, openStream } from '../api.js';
import { formatTime, formatValue, percent } from '../format.js';
import { useApi } from '../use-api.js';
import { StatusLine } from '../components/status-line.js';
import { LabelledSelect } from '../components/labelled-select.js';

/** One row of `GET /api/dashboard/queue`. */
export interface QueueRow {
  readonly id: string;
  readonly accountId: string;
  readonly accountName: string | null;
  readonly domain: string | null;
  readonly definitionId: string;
  readonly definitionName: string;
  readonly status: 'open' | 'expired';
  readonly qualifiedAt: string;
  readonly detectedAt: string;
  readonly fit: number | null;
  readonly owner: { readonly ownerId: string; readonly name: string; readonly source: string } | null;
  readonly why: readonly { readonly label: string; readonly value: unknown; readonly threshold: string }[];
  readonly alert: { readonly status: string; readonly count: number };
  readonly disposition: {
    readonly disposition: string;
    readonly reason: string;
    readonly recordedAt: string;
  } | null;
  readonly convertedAt: string | null;
}

interface QueueAnswer {
  readonly pqls: readonly QueueRow[];
  readonly owners: readonly { readonly ownerId: string; readonly name: string }[];
  readonly definitions: readonly { readonly id: string; readonly name: string }[];
  readonly dispositionSummary: readonly Record<string, number | string>[];
}

type SortKey = 'qualifiedAt' | 'detectedAt' | 'account' | 'owner' | 'fit' | 'definition';

const COLUMNS: readonly (readonly [SortKey | null, string])[] = [
  ['account', 'Account'],
  ['definition', 'Definition'],
  [null, 'Why'],
  ['owner', 'Owner'],
  ['fit', 'Fit'],
  ['qualifiedAt', 'Qualified'],
  ['detectedAt', 'Detected'],
  [null, 'Alert'],
  [null, 'Disposition'],
];

function sortValue(row: QueueRow, key: SortKey): string | number {
  switch (key) {
    case 'account':
      return (row.accountName ?? row.accountId).toLowerCase();
    case 'definition':
      return row.definitionName;
    case 'owner':
      return row.owner?.name ?? '';
    case 'fit':
      return row.fit ?? -1;
    case 'qualifiedAt':
      return row.qualifiedAt;
    case 'detectedAt':
      return row.detectedAt;
  }
}

/** The PQL queue: every PQL with why, owner and alert status, live from `/api/stream`, sortable and filterable. */
export function QueuePage() {
  const queue = useApi<QueueAnswer>('/api/dashboard/queue');
  const [live, setLive] = useState(false);
  const [fresh, setFresh] = useState<ReadonlySet<string>>(new Set());
  const [definition, setDefinition] = useState('');
  const [owner, setOwner] = useState('');
  const [status, setStatus] = useState('');
  const [disposition, setDisposition] = useState('');
  const [minFit, setMinFit] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; descending: boolean }>({
    key: 'qualifiedAt',
    descending: true,
  });
  const known = useRef<ReadonlySet<string> | null>(null);
  const reloadTimer = useRef<number | undefined>(undefined);

  // New PQLs arrive as stream events; the queue is read again (coalesced) to get owners and alert status.
  useEffect(
    () =>
      openStream(
        () => {
          clearTimeout(reloadTimer.current);
          reloadTimer.current = window.setTimeout(() => queue.reload(), 100);
        },
        (state) => setLive(state),
      ),
    [],
  );
  useEffect(() => {
    const rows = queue.data?.pqls;
    if (rows === undefined) return;
    const ids = new Set(rows.map((r) => r.id));
    if (known.current !== null) {
      const before = known.current;
      setFresh(new Set([...ids].filter((id) => !before.has(id))));
    }
    known.current = ids;
  }, [queue.data]);

  const rows = useMemo(() => {
    const all = queue.data?.pqls ?? [];
    const shown = all.filter(
      (r) =>
        (definition === '' || r.definitionId === definition) &&
        (owner === '' || (owner === '-' ? r.owner === null : r.owner?.ownerId === owner)) &&
        (status === '' || r.status === status) &&
        (disposition === '' || (r.disposition?.disposition ?? 'none') === disposition) &&
        (minFit === '' || (r.fit ?? 0) >= Number(minFit)),
    );
    const sign = sort.descending ? -1 : 1;
    return [...shown].sort((a, b) => {
      const x = sortValue(a, sort.key);
      const y = sortValue(b, sort.key);
      return (x < y ? -1 : x > y ? 1 : 0) * sign;
    });
  }, [queue.data, definition, owner, status, disposition, minFit, sort]);

  const data = queue.data;
  return (
    <>
      <h1>
        PQL queue{' '}
        <span class="live" data-live={String(live)} aria-live="polite">
          {live ? 'live' : 'not live (reconnecting)'}
        </span>
      </h1>
      <StatusLine loading={queue.loading && data === undefined} error={queue.error} />
      {data !== undefined && (
        <>
          <form class="filters" aria-label="Filter the queue" onSubmit={(e) => e.preventDefault()}>
            <LabelledSelect
              label="Definition"
              name="definition"
              value={definition}
              onChange={setDefinition}
              options={[
                { value: '', label: 'all' },
                ...data.definitions.map((d) => ({ value: d.id, label: d.name })),
              ]}
            />
            <LabelledSelect
              label="Owner"
              name="owner"
              value={owner}
              onChange={setOwner}
              options={[
                { value: '', label: 'all' },
                { value: '-', label: 'unassigned' },
                ...data.owners.map((o) => ({ value: o.ownerId, label: o.name })),
              ]}
            />
            <LabelledSelect
              label="Status"
              name="status"
              value={status}
              onChange={setStatus}
              options={[
                { value: '', label: 'all' },
                { value: 'open', label: 'open' },
                { value: 'expired', label: 'expired' },
              ]}
            />
            <LabelledSelect
              label="Disposition"
              name="disposition"
              value={disposition}
              onChange={setDisposition}
              options={[
                { value: '', label: 'all' },
                { value: 'none', label: 'not yet worked' },
                { value: 'contacted', label: 'contacted' },
                { value: 'won', label: 'won' },
                { value: 'disqualified', label: 'disqualified' },
              ]}
            />
            <LabelledSelect
              label="Fit"
              name="fit"
              value={minFit}
              onChange={setMinFit}
              options={[
                { value: '', label: 'any' },
                { value: '0.5', label: 'at least half' },
                { value: '1', label: 'full ICP fit' },
              ]}
            />
            <p class="muted" aria-live="polite">
              <span data-testid="row-count">{rows.length}</span> of {data.pqls.length} PQLs
            </p>
          </form>
          <table aria-label="PQLs">
            <thead>
              <tr>
                {COLUMNS.map(([key, label]) => (
                  <th
                    key={label}
                    scope="col"
                    aria-sort={
                      key !== null && sort.key === key
                        ? sort.descending
                          ? 'descending'
                          : 'ascending'
                        : undefined
                    }
                  >
                    {key === null ? (
                      label
                    ) : (
                      <button
                        type="button"
                        onClick={() =>
                          setSort((s) => ({
                            key,
                            descending: s.key === key ? !s.descending : key !== 'account',
                          }))
                        }
                      >
                        {label}
                        {sort.key === key ? (sort.descending ? ' ↓' : ' ↑') : ''}
                      </button>
                    )}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <QueueRowView key={row.id} row={row} fresh={fresh.has(row.id)} onChange={queue.reload} />
              ))}
            </tbody>
          </table>
          {rows.length === 0 && <p class="empty">No PQLs match these filters.</p>}
          <DispositionSummary summary={data.dispositionSummary} />
        </>
      )}
    </>
  );
}

function QueueRowView({ row, fresh, onChange }: { row: QueueRow; fresh: boolean; onChange: () => void }) {
  return (
    <tr class={fresh ? 'fresh' : undefined} data-pql={row.id} data-account={row.accountId}>
      <td>
        <a href={`#/accounts/${encodeURIComponent(row.accountId)}`}>{row.accountName ?? row.accountId}</a>
        <div class="muted">{row.domain ?? row.accountId}</div>
      </td>
      <td>{row.definitionName}</td>
      <td>
        <ul class="why">
          {row.why.map((w) => (
            <li key={w.label}>
              {w.label}: {formatValue(w.value)} <span class="muted">({w.threshold})</span>
            </li>
          ))}
        </ul>
      </td>
      <td>
        {row.owner === null ? <span class="muted">unassigned</span> : row.owner.name}
        {row.owner !== null && <div class="muted">{row.owner.source}</div>}
      </td>
      <td class="num">{percent(row.fit)}</td>
      <td>
        <time dateTime={row.qualifiedAt}>{formatTime(row.qualifiedAt)}</time>
      </td>
      <td>
        <time dateTime={row.detectedAt}>{formatTime(row.detectedAt)}</time>
      </td>
      <td>
        <span class={`status-${row.alert.status}`}>{row.alert.status}</span>
        {row.alert.count > 1 && <span class="muted"> ×{row.alert.count}</span>}
      </td>
      <td>
        <DispositionCell row={row} onChange={onChange} />
      </td>
    </tr>
  );
}

/** The current disposition with a small form to record a new one (a reason is required to disqualify). */
function DispositionCell({ row, onChange }: { row: QueueRow; onChange: () => void }) {
  const [kind, setKind] = useState('contacted');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    try {
      await api(`/api/dashboard/pqls/${encodeURIComponent(row.id)}/disposition`, {
        method: 'POST',
        body: { disposition: kind, reason },
      });
      setError(null);
      setReason('');
      onChange();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }
  const current = row.disposition;
  return (
    <>
      {current === null ? (
        <span class="muted">not yet worked</span>
      ) : (
        <span title={current.reason}>
          <span class="badge">{current.disposition}</span> {current.reason}
        </span>
      )}
      {row.convertedAt !== null && <div class="holds">paid {formatTime(row.convertedAt)}</div>}
      <details>
        <summary>Mark…</summary>
        <form
          onSubmit={(e) => void submit(e)}
          aria-label={`Disposition of ${row.accountName ?? row.accountId}`}
        >
          <label>
            <span class="sr-only">Disposition</span>
            <select
              aria-label="Disposition"
              name="disposition"
              value={kind}
              onChange={(e) => setKind((e.target as HTMLSelectElement).value)}
            >
              <option value="contacted">contacted</option>
              <option value="won">won</option>
              <option value="disqualified">disqualified</option>
            </select>
          </label>{' '}
          <label>
            <span class="sr-only">Reason</span>
            <input
              aria-label="Reason"
              name="reason"
              placeholder={kind === 'disqualified' ? 'why (required)' : 'note (optional)'}
              required={kind === 'disqualified'}
              maxLength={500}
              value={reason}
              onInput={(e) => setReason((e.target as HTMLInputElement).value)}
            />
          </label>{' '}
          <button type="submit" disabled={busy}>
            Save
          </button>
          {error !== null && (
            <p role="alert" class="error">
              {error}
            </p>
          )}
        </form>
      </details>
    </>
  );
}

function DispositionSummary({ summary }: { summary: QueueAnswer['dispositionSummary'] }) {
  if (summary.length === 0) return null;
  return (
    <section class="card" aria-labelledby="dispositions-heading">
      <h2 id="dispositions-heading">Dispositions beside billing conversion</h2>
      <p class="hint">
        What reps recorded, next to what billing says. Conversion is always billing's first paid invoice.
      </p>
      <table>
        <thead>
          <tr>
            <th scope="col">Definition</th>
            {['PQLs', 'not yet worked', 'contacted', 'won', 'disqualified', 'paid (billing)'].map((h) => (
              <th key={h} scope="col" class="num">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {summary.map((s) => (
            <tr key={String(s['definitionId'])}>
              <td>{s['definitionId']}</td>
              {['pqls', 'open', 'contacted', 'won', 'disqualified', 'converted'].map((k) => (
                <td key={k} class="num">
                  {s[k] ?? 0}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
