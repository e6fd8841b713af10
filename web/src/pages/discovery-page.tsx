import * as Plot from '@observablehq/plot';
import { useCallback, useState } from 'preact/hooks';
import { PlotFigure } from '../components/plot-figure.js';
import { StatusLine } from '../components/status-line.js';
import { percent } from '../format.js';
import { useApi } from '../use-api.js';
import { saveDraft } from './definitions-page.js';

/** One tested behaviour of the discovery report (fields the server left undefined are absent). */
export interface DiscoveryCandidate {
  readonly id: string;
  readonly kind: string;
  readonly label: string;
  readonly accounts: number;
  readonly converted: number;
  readonly conversionWith: number;
  // JSON has no Infinity: an unbounded lift or interval end arrives as null.
  readonly conversionWithout?: number | null;
  readonly lift?: number | null;
  readonly liftInterval?: readonly [number | null, number | null] | null;
  readonly medianLeadDays?: number | null;
  readonly qValue: number;
  readonly significant: boolean;
}

interface DiscoveryAnswer {
  readonly horizon: { readonly behaviourDays: number; readonly conversionDays: number };
  readonly population: {
    readonly accounts: number;
    readonly observed: number;
    readonly tooYoung: number;
    readonly converted: number;
    readonly baseRate?: number;
  };
  readonly verdict: string;
  readonly candidates: readonly DiscoveryCandidate[];
  readonly predictors: readonly DiscoveryCandidate[];
  readonly definitionYaml?: string;
}

/** The points of the lift vs coverage chart: every candidate with a lift. */
export function liftPoints(
  candidates: readonly DiscoveryCandidate[],
  observed: number,
): { label: string; coverage: number; lift: number; low: number; high: number; significant: boolean }[] {
  return candidates.flatMap((c) => {
    const lift = c.lift;
    if (typeof lift !== 'number' || observed === 0) return [];
    const low = c.liftInterval?.[0];
    const high = c.liftInterval?.[1];
    return [
      {
        label: c.label,
        coverage: c.accounts / observed,
        lift,
        low: typeof low === 'number' ? low : lift,
        high: typeof high === 'number' ? high : lift,
        significant: c.significant,
      },
    ];
  });
}

/** Signal discovery: behaviours ranked by how much they raise conversion, with intervals, and a definition from them. */
export function DiscoveryPage() {
  const [behaviourDays, setBehaviourDays] = useState('30');
  const [conversionDays, setConversionDays] = useState('90');
  const [query, setQuery] = useState('behaviourDays=30&conversionDays=90');
  const [all, setAll] = useState(false);
  const report = useApi<DiscoveryAnswer>(`/api/analysis/discover?${query}`);
  const missing = report.error?.status === 404 && report.error.code === 'not_found';
  const data = report.data;
  const shown = data === undefined ? [] : all ? data.candidates : data.candidates.slice(0, 25);
  return (
    <>
      <h1>Signal discovery</h1>
      <form
        class="filters"
        aria-label="Discovery horizon"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery(
            `behaviourDays=${encodeURIComponent(behaviourDays)}&conversionDays=${encodeURIComponent(conversionDays)}`,
          );
        }}
      >
        <label>
          Behaviour in the first (days)
          <input
            name="behaviourDays"
            type="number"
            min={1}
            value={behaviourDays}
            onInput={(e) => setBehaviourDays((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Conversion within (days)
          <input
            name="conversionDays"
            type="number"
            min={1}
            value={conversionDays}
            onInput={(e) => setConversionDays((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit">Run</button>
      </form>
      {missing ? (
        <p class="empty" data-empty="discovery">
          This server has no signal discovery yet (<code>GET /api/analysis/discover</code> answered 404).
        </p>
      ) : (
        <StatusLine loading={report.loading} error={report.error} />
      )}
      {data !== undefined && !report.loading && (
        <>
          <p>
            {data.verdict}{' '}
            <span class="muted">
              {data.population.observed} of {data.population.accounts} accounts observed for{' '}
              {data.horizon.behaviourDays}+{data.horizon.conversionDays} days ({data.population.tooYoung} too
              young); base conversion {percent(data.population.baseRate)}.
            </span>
          </p>
          {data.definitionYaml !== undefined && (
            <p>
              <button
                type="button"
                onClick={() => {
                  saveDraft(data.definitionYaml ?? '');
                  location.hash = '#/definitions/new';
                }}
              >
                Make a definition from these predictors
              </button>{' '}
              <span class="muted">
                opens the editor with the suggested YAML; nothing is saved until you save it
              </span>
            </p>
          )}
          <section class="card" aria-labelledby="lift-heading">
            <h2 id="lift-heading">Lift vs coverage</h2>
            <LiftChart candidates={data.candidates} observed={data.population.observed} />
          </section>
          <table aria-label="Candidate signals">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Behaviour</th>
                <th scope="col" class="num">
                  Accounts
                </th>
                <th scope="col" class="num">
                  Converted with / without
                </th>
                <th scope="col" class="num">
                  Lift (95% CI)
                </th>
                <th scope="col" class="num">
                  q
                </th>
                <th scope="col" class="num">
                  Lead (days)
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((c, i) => (
                <tr key={c.id} class={c.significant ? 'holds' : undefined}>
                  <td class="num">{i + 1}</td>
                  <td>
                    {c.label}
                    {c.significant && <span class="badge">predictor</span>}
                  </td>
                  <td class="num">{c.accounts}</td>
                  <td class="num">
                    {percent(c.conversionWith)} / {percent(c.conversionWithout)}
                  </td>
                  <td class="num">
                    {ratio(c.lift)}
                    {c.liftInterval != null && ` (${ratio(c.liftInterval[0])}–${ratio(c.liftInterval[1])})`}
                  </td>
                  <td class="num">{c.qValue < 0.001 ? '<0.001' : c.qValue.toFixed(3)}</td>
                  <td class="num">{c.medianLeadDays ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {data.candidates.length > 25 && (
            <button type="button" class="secondary" onClick={() => setAll((a) => !a)}>
              {all ? 'Show the top 25' : `Show all ${data.candidates.length}`}
            </button>
          )}
        </>
      )}
    </>
  );
}

/** A lift for people: two decimals; null (an unbounded one, JSON has no Infinity) as ∞. */
function ratio(value: number | null | undefined): string {
  if (value === undefined) return '—';
  return value === null ? '∞' : value.toFixed(2);
}

function LiftChart({
  candidates,
  observed,
}: {
  candidates: readonly DiscoveryCandidate[];
  observed: number;
}) {
  const render = useCallback(() => {
    const points = liftPoints(candidates, observed);
    return Plot.plot({
      height: 320,
      marginLeft: 50,
      x: { label: 'coverage (share of observed accounts)', tickFormat: '%', grid: true },
      y: { label: 'lift', grid: true, zero: true },
      color: { domain: [true, false], range: ['#1c7c45', '#9aa3b2'] },
      marks: [
        Plot.ruleY([1], { stroke: '#5b6475', strokeDasharray: '4 3' }),
        Plot.ruleX(points, {
          x: 'coverage',
          y1: 'low',
          y2: 'high',
          stroke: 'significant',
          strokeOpacity: 0.5,
        }),
        Plot.dot(points, {
          x: 'coverage',
          y: 'lift',
          fill: 'significant',
          r: 4,
          // A function: Plot reads a string here as a field name. Each dot is labelled for screen readers.
          ariaLabel: (d: { label: string; lift: number; coverage: number }) =>
            `candidate ${d.label}: lift ${d.lift.toFixed(2)}, coverage ${percent(d.coverage)}`,
          title: (d: { label: string; lift: number; coverage: number }) =>
            `${d.label}: lift ${d.lift.toFixed(2)}, coverage ${percent(d.coverage)}`,
        }),
      ],
    });
  }, [candidates, observed]);
  return <PlotFigure render={render} label="Lift against coverage of each candidate signal" />;
}
