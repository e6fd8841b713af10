import { formatTime, formatValue, percent } from '../format.js';

/** A clause as the read API sends it (`explanation.clauses[]`). */
export interface ClauseJson {
  readonly path: string;
  readonly label: string;
  readonly kind: string;
  readonly holds: boolean | 'pending';
  readonly value: unknown;
  readonly threshold: string;
  readonly eventCount: number;
  readonly firstHeldAt: string | null;
  readonly progress: number | null;
}

function holdsText(holds: ClauseJson['holds']): string {
  return holds === true ? 'holds' : holds === false ? 'not yet' : 'pending';
}

/** Every clause of one definition with its value, threshold and progress toward it. */
export function ClauseTable({
  clauses,
  missing,
}: {
  clauses: readonly ClauseJson[];
  missing: readonly string[];
}) {
  const missingSet = new Set(missing);
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Clause</th>
          <th scope="col">Value</th>
          <th scope="col">Threshold</th>
          <th scope="col">Progress</th>
          <th scope="col">State</th>
        </tr>
      </thead>
      <tbody>
        {clauses.map((c) => {
          const progress = c.holds === true ? 1 : (c.progress ?? 0);
          return (
            <tr key={c.path}>
              <td>
                {c.label}
                <div class="muted">{c.path}</div>
              </td>
              <td class="num">{formatValue(c.value)}</td>
              <td>{c.threshold}</td>
              <td>
                <progress
                  max={1}
                  value={progress}
                  aria-label={`${c.label}: ${percent(progress)} of threshold`}
                />{' '}
                {percent(progress)}
              </td>
              <td class={c.holds === true ? 'holds' : missingSet.has(c.path) ? 'error' : 'muted'}>
                {holdsText(c.holds)}
                {c.firstHeldAt !== null && <div class="muted">since {formatTime(c.firstHeldAt)}</div>}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
