import * as Plot from '@observablehq/plot';
import { useCallback } from 'preact/hooks';
import { ClauseTable, type ClauseJson } from '../components/clause-table.js';
import { PlotFigure } from '../components/plot-figure.js';
import { StatusLine } from '../components/status-line.js';
import { formatTime, formatValue, percent } from '../format.js';
import { useApi } from '../use-api.js';

interface AccountAnswer {
  readonly account: {
    readonly accountId: string;
    readonly signupAt: string | null;
    readonly firstEventAt: string | null;
    readonly lastEventAt: string | null;
    readonly eventCount: number;
    readonly traits: Readonly<Record<string, { value: unknown; source: string; at: string | null }>>;
  };
  readonly definitions: readonly {
    readonly definitionId: string;
    readonly definitionVersion: number;
    readonly holds: boolean | 'pending';
    readonly progress: number;
    readonly missing: readonly string[];
    readonly explanation: { readonly clauses: readonly ClauseJson[] } | null;
  }[];
  readonly pqls: readonly {
    id: string;
    definitionId: string;
    qualifiedAt: string;
    detectedAt: string;
    status: string;
  }[];
}

interface AccountStory {
  readonly traits: Readonly<Record<string, { value: unknown; source: string; at: string | null }>>;
  readonly mrr: readonly { at: string; mrr: number }[];
  readonly alerts: readonly {
    id: string;
    channel: string;
    target: string;
    status: string;
    attempts: number;
    createdAt: string;
    deliveredAt: string | null;
    lastError: string | null;
  }[];
  readonly dispositions: readonly {
    disposition: string;
    reason: string;
    recordedAt: string;
    pqlId: string;
  }[];
  readonly activity: {
    readonly events: number;
    readonly days: readonly { day: string; events: number }[];
    readonly recent: readonly {
      messageId: string;
      type: string;
      event: string | null;
      userId: string | null;
      timestamp: string;
    }[];
  };
}

/** One account's story: merged traits with source, every clause of every definition, activity, MRR and alerts. */
export function AccountPage({ accountId }: { accountId: string }) {
  const id = encodeURIComponent(accountId);
  const account = useApi<AccountAnswer>(`/api/accounts/${id}`);
  const story = useApi<AccountStory>(`/api/dashboard/accounts/${id}`);
  const a = account.data?.account;
  const name = formatValue(story.data?.traits['name']?.value ?? a?.traits['name']?.value ?? accountId);
  return (
    <>
      <h1>{name}</h1>
      <StatusLine loading={account.loading && a === undefined} error={account.error} />
      {a !== undefined && account.data !== undefined && (
        <>
          <p class="muted">
            {accountId} · signed up {formatTime(a.signupAt)} · {a.eventCount} events · last active{' '}
            {formatTime(a.lastEventAt)}
          </p>
          <div class="grid2">
            <section class="card" aria-labelledby="traits-heading">
              <h2 id="traits-heading">Traits</h2>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Trait</th>
                    <th scope="col">Value</th>
                    <th scope="col">Source</th>
                    <th scope="col">As of</th>
                  </tr>
                </thead>
                <tbody>
                  {Object.entries({ ...a.traits, ...story.data?.traits })
                    .sort(([x], [y]) => x.localeCompare(y))
                    .map(([trait, t]) => (
                      <tr key={trait}>
                        <th scope="row">{trait}</th>
                        <td>{formatValue(t.value)}</td>
                        <td>{t.source}</td>
                        <td>{formatTime(t.at)}</td>
                      </tr>
                    ))}
                </tbody>
              </table>
            </section>
            <section class="card" aria-labelledby="mrr-heading">
              <h2 id="mrr-heading">MRR over time</h2>
              {story.data === undefined ? (
                <StatusLine loading={story.loading} error={story.error} />
              ) : story.data.mrr.length === 0 ? (
                <p class="empty">No billing for this account yet.</p>
              ) : (
                <MrrChart mrr={story.data.mrr} />
              )}
              <h2>PQLs</h2>
              {account.data.pqls.length === 0 ? (
                <p class="muted">Not a PQL under any definition.</p>
              ) : (
                <ul>
                  {account.data.pqls.map((p) => (
                    <li key={p.id}>
                      {p.definitionId}: qualified {formatTime(p.qualifiedAt)}, detected{' '}
                      {formatTime(p.detectedAt)} ({p.status})
                    </li>
                  ))}
                </ul>
              )}
              {story.data !== undefined && story.data.dispositions.length > 0 && (
                <>
                  <h2>Dispositions</h2>
                  <ul>
                    {story.data.dispositions.map((d, i) => (
                      <li key={i}>
                        {formatTime(d.recordedAt)} <span class="badge">{d.disposition}</span> {d.reason}
                      </li>
                    ))}
                  </ul>
                </>
              )}
            </section>
          </div>
          <section aria-labelledby="definitions-heading">
            <h2 id="definitions-heading">Definitions</h2>
            {account.data.definitions.map((d) => (
              <section class="card" key={d.definitionId} aria-label={`Definition ${d.definitionId}`}>
                <h3>
                  {d.definitionId} <span class="muted">v{d.definitionVersion}</span>{' '}
                  <span class={d.holds === true ? 'holds' : 'muted'}>
                    {d.holds === true ? 'holds' : `${percent(d.progress)} of the way`}
                  </span>
                  {d.holds !== true && d.missing.length === 1 && <span class="badge">near-PQL</span>}
                </h3>
                {d.explanation === null ? (
                  <p class="muted">No activity this definition reads yet.</p>
                ) : (
                  <ClauseTable clauses={d.explanation.clauses} missing={d.missing} />
                )}
              </section>
            ))}
          </section>
          {story.data !== undefined && (
            <div class="grid2">
              <section class="card" aria-labelledby="activity-heading">
                <h2 id="activity-heading">Activity ({story.data.activity.events} events)</h2>
                {story.data.activity.days.length > 0 && <ActivityChart days={story.data.activity.days} />}
                <ol class="timeline">
                  {story.data.activity.recent.map((e) => (
                    <li key={e.messageId}>
                      <time dateTime={e.timestamp}>{formatTime(e.timestamp)}</time> {e.type}
                      {e.event === null ? '' : ` ${e.event}`} <span class="muted">{e.userId ?? ''}</span>
                    </li>
                  ))}
                </ol>
              </section>
              <section class="card" aria-labelledby="alerts-heading">
                <h2 id="alerts-heading">Alerts sent</h2>
                {story.data.alerts.length === 0 ? (
                  <p class="muted">No alerts for this account.</p>
                ) : (
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Created</th>
                        <th scope="col">Channel</th>
                        <th scope="col">Status</th>
                        <th scope="col">Delivered</th>
                      </tr>
                    </thead>
                    <tbody>
                      {story.data.alerts.map((al) => (
                        <tr key={al.id}>
                          <td>{formatTime(al.createdAt)}</td>
                          <td>
                            {al.channel} {al.target}
                          </td>
                          <td class={`status-${al.status}`}>
                            {al.status}
                            {al.lastError !== null && <div class="muted">{al.lastError}</div>}
                          </td>
                          <td>{formatTime(al.deliveredAt)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
              </section>
            </div>
          )}
        </>
      )}
    </>
  );
}

function MrrChart({ mrr }: { mrr: AccountStory['mrr'] }) {
  const render = useCallback(() => {
    const points = mrr.map((p) => ({ at: new Date(p.at), mrr: p.mrr }));
    return Plot.plot({
      height: 220,
      marginLeft: 50,
      y: { label: 'MRR', grid: true, zero: true },
      x: { label: null },
      marks: [
        Plot.lineY(points, { x: 'at', y: 'mrr', curve: 'step-after' }),
        Plot.dot(points, { x: 'at', y: 'mrr' }),
      ],
    });
  }, [mrr]);
  return <PlotFigure render={render} label="MRR over time" />;
}

function ActivityChart({ days }: { days: AccountStory['activity']['days'] }) {
  const render = useCallback(() => {
    const points = days.map((d) => ({ day: new Date(d.day), events: d.events }));
    return Plot.plot({
      height: 160,
      marginLeft: 40,
      y: { label: 'events / day', grid: true },
      x: { label: null },
      marks: [Plot.rectY(points, { x: 'day', y: 'events', interval: 'day', fill: '#2451c7' })],
    });
  }, [days]);
  return <PlotFigure render={render} label="Events per day" />;
}
