import * as Plot from '@observablehq/plot';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';
import { PlotFigure } from '../components/plot-figure.js';
import { StatusLine } from '../components/status-line.js';
import { formatTime } from '../format.js';
import { lineDiff } from '../line-diff.js';
import { useApi } from '../use-api.js';

const DRAFT_KEY = 'pql.draftDefinition';

/** Hands a definition text to the editor (discovery's "make a definition"); it opens at `#/definitions/new`. */
export function saveDraft(text: string): void {
  sessionStorage.setItem(DRAFT_KEY, text);
}

function takeDraft(): string | null {
  const text = sessionStorage.getItem(DRAFT_KEY);
  sessionStorage.removeItem(DRAFT_KEY);
  return text;
}

/** A problem of a definition text as the definition API reports it. */
export interface DefinitionProblem {
  readonly line: number | null;
  readonly column: number | null;
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

interface DefinitionList {
  readonly definitions: readonly { id: string; name: string; version: number; file: string | null }[];
  readonly problems: readonly DefinitionProblem[];
  readonly editable: boolean;
}

interface DefinitionDetail {
  readonly id: string;
  readonly version: number | null;
  readonly source: string | null;
  readonly versions: readonly { version: number; createdAt: string; source: string }[];
}

interface BacktestAnswer {
  readonly ok: true;
  readonly events: number;
  readonly accounts: number;
  readonly ms: number;
  readonly qualified: number;
  readonly added: number;
  readonly removed: number;
  readonly livePqls: number;
  readonly firstEventAt: string | null;
  readonly lastEventAt: string | null;
  readonly pqls: readonly { accountId: string; definitionId: string; qualifiedAt: string }[];
  readonly byMonth: readonly { month: string; pqls: number }[];
  readonly measures?: Readonly<Record<string, unknown>>;
}

const NEW_TEMPLATE = `id: my-definition
name: My definition
signals:
  calls: { event: API Call Made, count: { gte: 3 } }
qualify: { all: [calls] }
`;

/** The text's definition id (its top-level `id:`), to save it under. */
function idOf(text: string): string | undefined {
  return /^id:\s*['"]?([A-Za-z0-9_.-]+)/m.exec(text)?.[1];
}

/** Definitions: pick one, edit its YAML with inline validation, backtest it, save it as a new version. */
export function DefinitionsPage({ selected }: { selected: string | undefined }) {
  const list = useApi<DefinitionList>('/api/definitions');
  return (
    <>
      <h1>Definitions</h1>
      <StatusLine loading={list.loading && list.data === undefined} error={list.error} />
      {list.data !== undefined && (
        <>
          <nav aria-label="Definitions">
            <ul class="filters" style={{ listStyle: 'none', padding: 0 }}>
              {list.data.definitions.map((d) => (
                <li key={d.id}>
                  <a
                    href={`#/definitions/${encodeURIComponent(d.id)}`}
                    aria-current={selected === d.id ? 'page' : undefined}
                  >
                    {d.name}
                  </a>{' '}
                  <span class="muted">v{d.version}</span>
                </li>
              ))}
              <li>
                <a href="#/definitions/new" aria-current={selected === 'new' ? 'page' : undefined}>
                  + New definition
                </a>
              </li>
            </ul>
          </nav>
          {list.data.problems.length > 0 && (
            <div role="alert" class="card error">
              Files in the definition folder have errors; the previous versions stay live:
              <ProblemList problems={list.data.problems} />
            </div>
          )}
          {!list.data.editable && (
            <p class="hint">This server was started without a definition folder: read only.</p>
          )}
          {selected === undefined ? (
            <p class="muted">Pick a definition to edit, or make a new one.</p>
          ) : (
            <DefinitionEditor
              key={selected}
              id={selected}
              editable={list.data.editable}
              onSaved={list.reload}
            />
          )}
        </>
      )}
    </>
  );
}

function DefinitionEditor({ id, editable, onSaved }: { id: string; editable: boolean; onSaved: () => void }) {
  const isNew = id === 'new';
  const detail = useApi<DefinitionDetail>(isNew ? null : `/api/definitions/${encodeURIComponent(id)}`);
  const [text, setText] = useState<string | null>(isNew ? (takeDraft() ?? NEW_TEMPLATE) : null);
  const [problems, setProblems] = useState<readonly DefinitionProblem[]>([]);
  const [checked, setChecked] = useState<'idle' | 'checking' | 'ok' | 'bad'>('idle');
  const [backtest, setBacktest] = useState<BacktestAnswer | null>(null);
  const [busy, setBusy] = useState<'backtest' | 'save' | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLPreElement>(null);

  useEffect(() => {
    if (text === null && detail.data !== undefined)
      setText(detail.data.source ?? detail.data.versions.at(-1)?.source ?? '');
  }, [detail.data]);

  // Inline validation: the text is checked by the server's definition parser shortly after each edit.
  useEffect(() => {
    if (text === null) return;
    setChecked('checking');
    const timer = window.setTimeout(() => {
      const target = idOf(text);
      api<{ ok: true }>('/api/definitions/validate', {
        method: 'POST',
        body: { text, ...(isNew || target === undefined ? {} : { id }) },
      })
        .then(() => {
          setProblems([]);
          setChecked('ok');
        })
        .catch((e: unknown) => {
          const body =
            e instanceof ApiError ? (e.body as { problems?: DefinitionProblem[] } | undefined) : undefined;
          setProblems(
            body?.problems ?? [
              {
                line: null,
                column: null,
                path: '',
                code: 'error',
                message: e instanceof Error ? e.message : String(e),
              },
            ],
          );
          setChecked('bad');
        });
    }, 300);
    return () => clearTimeout(timer);
  }, [text]);

  const badLines = useMemo(
    () => new Set(problems.flatMap((p) => (p.line === null ? [] : [p.line]))),
    [problems],
  );
  const lineCount = (text ?? '').split('\n').length;

  function jumpTo(line: number | null) {
    const element = area.current;
    if (element === null || line === null || text === null) return;
    const lines = text.split('\n');
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    element.focus();
    element.setSelectionRange(start, start + (lines[line - 1]?.length ?? 0));
  }

  async function runBacktest() {
    if (text === null) return;
    setBusy('backtest');
    setMessage(null);
    try {
      setBacktest(await api<BacktestAnswer>('/api/dashboard/backtest', { method: 'POST', body: { text } }));
    } catch (e) {
      setBacktest(null);
      const body =
        e instanceof ApiError ? (e.body as { problems?: DefinitionProblem[] } | undefined) : undefined;
      if (body?.problems !== undefined) setProblems(body.problems);
      setMessage(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(null);
    }
  }

  async function save() {
    if (text === null) return;
    const target = isNew ? idOf(text) : id;
    if (target === undefined) {
      setMessage('Give the definition an id (a top-level "id:" line) to save it.');
      return;
    }
    setBusy('save');
    try {
      const answer = await api<{ version: number | null }>(`/api/definitions/${encodeURIComponent(target)}`, {
        method: 'PUT',
        body: { text },
      });
      setMessage(`Saved ${target} as version ${answer.version ?? '?'}; it is live.`);
      onSaved();
      if (isNew) location.hash = `#/definitions/${encodeURIComponent(target)}`;
      else detail.reload();
    } catch (e) {
      const body =
        e instanceof ApiError ? (e.body as { problems?: DefinitionProblem[] } | undefined) : undefined;
      if (body?.problems !== undefined) setProblems(body.problems);
      setMessage(`Not saved: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(null);
    }
  }

  if (text === null) return <StatusLine loading={detail.loading} error={detail.error} />;
  return (
    <div class="grid2">
      <section aria-labelledby="editor-heading">
        <h2 id="editor-heading">
          {isNew ? 'New definition' : `${id} (live: v${detail.data?.version ?? '?'})`}
        </h2>
        <div class="editor">
          <pre class="gutter" ref={gutter} aria-hidden="true">
            {Array.from({ length: lineCount }, (_, i) => (
              <div key={i} class={badLines.has(i + 1) ? 'bad' : undefined}>
                {i + 1}
              </div>
            ))}
          </pre>
          <textarea
            ref={area}
            aria-label="Definition YAML"
            aria-invalid={checked === 'bad'}
            aria-describedby="definition-problems"
            spellcheck={false}
            rows={Math.max(20, lineCount + 2)}
            value={text}
            onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
            onScroll={(e) => {
              if (gutter.current !== null)
                gutter.current.scrollTop = (e.target as HTMLTextAreaElement).scrollTop;
            }}
          />
        </div>
        <div id="definition-problems" aria-live="polite">
          {checked === 'ok' && <p class="holds">Valid.</p>}
          {checked === 'checking' && <p class="muted">Checking…</p>}
          {problems.length > 0 && <ProblemList problems={problems} onPick={jumpTo} />}
        </div>
        <p>
          <button
            type="button"
            onClick={() => void runBacktest()}
            disabled={busy !== null || checked === 'bad'}
          >
            {busy === 'backtest' ? 'Backtesting…' : 'Backtest preview'}
          </button>{' '}
          <button
            type="button"
            class="secondary"
            onClick={() => void save()}
            disabled={!editable || busy !== null || checked === 'bad'}
          >
            {busy === 'save' ? 'Saving…' : 'Save as a new version'}
          </button>
        </p>
        {message !== null && <p role="status">{message}</p>}
      </section>
      <section>
        {backtest !== null && <BacktestPreview result={backtest} />}
        {!isNew && detail.data !== undefined && (
          <VersionHistory versions={detail.data.versions} current={text} />
        )}
      </section>
    </div>
  );
}

function ProblemList({
  problems,
  onPick,
}: {
  problems: readonly DefinitionProblem[];
  onPick?: (line: number | null) => void;
}) {
  return (
    <ul class="error" aria-label="Problems">
      {problems.map((p, i) => {
        const where = `${p.line === null ? '' : `line ${p.line}${p.column === null ? '' : `:${p.column}`}`}${p.path === '' ? '' : ` ${p.path}`}`;
        return (
          <li key={i} data-problem-line={p.line ?? ''}>
            {onPick !== undefined && p.line !== null ? (
              <button type="button" class="link" onClick={() => onPick(p.line)}>
                {where}
              </button>
            ) : (
              where
            )}
            : {p.message}
          </li>
        );
      })}
    </ul>
  );
}

function BacktestPreview({ result }: { result: BacktestAnswer }) {
  const render = useCallback(
    () =>
      Plot.plot({
        height: 180,
        marginLeft: 40,
        x: { label: null, type: 'band' },
        y: { label: 'PQLs / month', grid: true },
        marks: [Plot.barY(result.byMonth, { x: 'month', y: 'pqls', fill: '#2451c7' })],
      }),
    [result],
  );
  return (
    <section class="card" aria-labelledby="backtest-heading" data-testid="backtest">
      <h2 id="backtest-heading">Backtest preview</h2>
      <p>
        <strong data-testid="backtest-qualified">{result.qualified}</strong> accounts would have qualified
        over {result.events} events of {result.accounts} accounts ({formatTime(result.firstEventAt)} –{' '}
        {formatTime(result.lastEventAt)}; {result.ms} ms).
      </p>
      <p class="muted">
        Against the live version: {result.added} added, {result.removed} no longer found, {result.livePqls}{' '}
        live PQLs.
      </p>
      {result.measures !== undefined && <pre class="diff">{JSON.stringify(result.measures, null, 2)}</pre>}
      {result.byMonth.length > 0 && <PlotFigure render={render} label="Backtest PQLs per month" />}
    </section>
  );
}

function VersionHistory({ versions, current }: { versions: DefinitionDetail['versions']; current: string }) {
  const newest = versions.at(-1)?.version ?? 0;
  const [shown, setShown] = useState<number>(newest);
  const [against, setAgainst] = useState<'previous' | 'editor'>('previous');
  const version = versions.find((v) => v.version === shown);
  const previous = versions.find((v) => v.version === shown - 1);
  const diff =
    version === undefined
      ? []
      : against === 'editor'
        ? lineDiff(version.source, current)
        : lineDiff(previous?.source ?? '', version.source);
  return (
    <section class="card" aria-labelledby="history-heading">
      <h2 id="history-heading">Version history</h2>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Version
          <select
            name="version"
            value={String(shown)}
            onChange={(e) => setShown(Number((e.target as HTMLSelectElement).value))}
          >
            {[...versions].reverse().map((v) => (
              <option key={v.version} value={String(v.version)}>
                v{v.version} — {formatTime(v.createdAt)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Compared with
          <select
            name="against"
            value={against}
            onChange={(e) => setAgainst((e.target as HTMLSelectElement).value as 'previous' | 'editor')}
          >
            <option value="previous">the version before it</option>
            <option value="editor">the text in the editor</option>
          </select>
        </label>
      </form>
      <pre class="diff" aria-label="Diff">
        {diff.map((line, i) => (
          <div key={i} class={line.kind === 'same' ? undefined : line.kind}>
            {line.kind === 'add' ? '+ ' : line.kind === 'del' ? '- ' : '  '}
            {line.text}
          </div>
        ))}
      </pre>
    </section>
  );
}
