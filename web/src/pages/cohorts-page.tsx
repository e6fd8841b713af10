import * as Plot from '@observablehq/plot';
import { useCallback, useState } from 'preact/hooks';
import { PlotFigure } from '../components/plot-figure.js';
import { StatusLine } from '../components/status-line.js';
import { percent } from '../format.js';
import { useApi } from '../use-api.js';
import { LabelledSelect } from '../components/labelled-select.js';

/** One sign-up cohort of `GET /api/analysis/cohorts`. */
export interface CohortRow {
  readonly cohort: string;
  readonly accounts: number;
  readonly periods: readonly {
    readonly period: number;
    readonly converted: number;
    readonly convertedShare: number;
    readonly mrr: number;
    readonly mrrRetention: number | null;
  }[];
}

interface CohortAnswer {
  readonly by: 'week' | 'month';
  readonly cohorts: readonly CohortRow[];
  readonly splits?: readonly { readonly definitionId: string; readonly cohorts: readonly CohortRow[] }[];
}

/** What a heatmap cell shows. */
export type CohortMeasure = 'mrr' | 'conversion' | 'retention';

const MEASURES: readonly (readonly [CohortMeasure, string])[] = [
  ['mrr', 'MRR'],
  ['conversion', 'Conversion'],
  ['retention', 'MRR retention'],
];

/** The heatmap's cells for a measure: one per cohort and period that has a value (retention starts later). */
export function cohortCells(
  cohorts: readonly CohortRow[],
  measure: CohortMeasure,
): { cohort: string; period: number; value: number }[] {
  return cohorts.flatMap((c) =>
    c.periods.flatMap((p) => {
      const value = measure === 'mrr' ? p.mrr : measure === 'conversion' ? p.convertedShare : p.mrrRetention;
      return value === null ? [] : [{ cohort: c.cohort, period: p.period, value }];
    }),
  );
}

/** Sign-up cohorts by period since sign-up, as a heatmap of MRR, cumulative conversion or MRR retention. */
export function CohortsPage() {
  const [by, setBy] = useState<'month' | 'week'>('month');
  const [measure, setMeasure] = useState<CohortMeasure>('mrr');
  const [split, setSplit] = useState('');
  const report = useApi<CohortAnswer>(`/api/analysis/cohorts?by=${by}&split=definition`);
  const missing = report.error?.status === 404 && report.error.code === 'not_found';
  const cohorts =
    split === '' ? report.data?.cohorts : report.data?.splits?.find((s) => s.definitionId === split)?.cohorts;
  return (
    <>
      <h1>Cohort MRR</h1>
      <p class="hint">
        Accounts by sign-up {by}; each column is a {by} since sign-up. Conversion is cumulative (first paid
        invoice); retention is MRR over the cohort's first MRR.
      </p>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Cohort view">
        <fieldset class="toggles">
          <legend class="sr-only">Measure</legend>
          {MEASURES.map(([value, label]) => (
            <label key={value}>
              <input
                type="radio"
                name="measure"
                value={value}
                checked={measure === value}
                onChange={() => setMeasure(value)}
              />{' '}
              {label}
            </label>
          ))}
        </fieldset>
        <LabelledSelect
          label="Cohorts by"
          name="by"
          value={by}
          onChange={(value) => setBy(value as 'month' | 'week')}
          options={[
            { value: 'month', label: 'month' },
            { value: 'week', label: 'week' },
          ]}
        />
        <LabelledSelect
          label="Accounts"
          name="split"
          value={split}
          onChange={setSplit}
          options={[
            { value: '', label: 'all sign-ups' },
            ...(report.data?.splits ?? []).map((s) => ({
              value: s.definitionId,
              label: `PQLs of ${s.definitionId}`,
            })),
          ]}
        />
      </form>
      {missing ? (
        <p class="empty" data-empty="cohorts">
          This server has no cohort analysis yet (<code>GET /api/analysis/cohorts</code> answered 404).
        </p>
      ) : (
        <StatusLine loading={report.loading && report.data === undefined} error={report.error} />
      )}
      {cohorts !== undefined &&
        (cohorts.length === 0 ? (
          <p class="empty">No sign-ups to show.</p>
        ) : (
          <CohortHeatmap cohorts={cohorts} measure={measure} by={by} />
        ))}
    </>
  );
}

function CohortHeatmap({
  cohorts,
  measure,
  by,
}: {
  cohorts: readonly CohortRow[];
  measure: CohortMeasure;
  by: string;
}) {
  const render = useCallback(() => {
    const cells = cohortCells(cohorts, measure);
    const format = measure === 'mrr' ? (v: number) => String(Math.round(v)) : (v: number) => percent(v);
    return Plot.plot({
      marginLeft: 90,
      padding: 0.05,
      width: Math.max(640, 60 + 48 * Math.max(1, ...cohorts.map((c) => c.periods.length))),
      height: 40 + 26 * cohorts.length,
      x: { label: `${by}s since sign-up`, axis: 'top' },
      y: { label: null, domain: cohorts.map((c) => c.cohort) },
      color: {
        scheme: measure === 'retention' ? 'rdylgn' : 'blues',
        legend: false,
        ...(measure === 'retention' ? { domain: [0, 2] } : {}),
      },
      marks: [
        Plot.cell(cells, {
          x: 'period',
          y: 'cohort',
          fill: 'value',
          // A function: Plot reads a string here as a field name. Each cell is labelled for screen readers.
          ariaLabel: (d: { cohort: string; period: number; value: number }) =>
            `cohort cell ${d.cohort}, ${by} ${d.period}: ${format(d.value)}`,
          title: (d: { cohort: string; period: number; value: number }) =>
            `${d.cohort}, ${by} ${d.period}: ${format(d.value)}`,
        }),
        Plot.text(cells, {
          x: 'period',
          y: 'cohort',
          text: (d: { value: number }) => format(d.value),
          fontSize: 10,
          fill: 'black',
          stroke: 'white',
          strokeWidth: 2,
        }),
      ],
    });
  }, [cohorts, measure, by]);
  return (
    <>
      <PlotFigure render={render} label={`Cohort heatmap: ${measure}`} />
      <table class="sr-only" aria-label="Cohort sizes">
        <tbody>
          {cohorts.map((c) => (
            <tr key={c.cohort}>
              <th scope="row">{c.cohort}</th>
              <td>{c.accounts} accounts</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
