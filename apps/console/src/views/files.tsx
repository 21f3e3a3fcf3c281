import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, can, followEvents, TERMINAL, type Session, type TaskPage, type TaskView } from '../api';
import { downloadFile } from '../download';
import { json, message, when } from '../format';
import { usePolled } from '../hooks';
import { href } from '../router';
import { StatusBadge } from './status-badge';

/** The switches of the rules form; everything else through JSON. */
const SWITCHES = [
  ['trimWhitespace', 'Trim whitespace'],
  ['collapseWhitespace', 'Collapse inner whitespace'],
  ['emptyAsNull', 'Empty cells as null'],
  ['dropEmptyRows', 'Drop empty rows'],
] as const;

interface CleanResult {
  outputFileId: string;
  rejectsFileId: string;
  reportFileId: string;
  report: Record<string, unknown>;
}

function rulesOf(switches: Record<string, boolean>, dedupe: boolean, dedupeColumns: string, normalizeHeaders: boolean): Record<string, unknown> {
  const rules: Record<string, unknown> = {};
  for (const [name] of SWITCHES) if (switches[name]) rules[name] = true;
  if (normalizeHeaders) rules.headers = { normalize: true };
  if (dedupe) {
    const columns = dedupeColumns
      .split(',')
      .map((column) => column.trim())
      .filter(Boolean);
    rules.dedupe = columns.length ? { columns } : {};
  }
  return rules;
}

/** A cleaning task followed live, with its downloads once it completed. */
function CleaningRun({ session, id }: { session: Session; id: string }) {
  const [task, setTask] = useState<TaskView | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    const load = () => call<TaskView>(session.key, 'GET', `/v1/tasks/${id}`).then((loaded) => !abort.signal.aborted && setTask(loaded));
    void load().then(() =>
      followEvents(session.key, id, ({ data }) => setTask((previous) => (previous ? { ...previous, ...data } : previous)), abort.signal).then(
        () => !abort.signal.aborted && load(),
      ),
    );
    return () => abort.abort();
  }, [session.key, id]);
  if (!task) return <p aria-busy="true">Loading…</p>;
  const result = task.status === 'completed' ? (task.result as CleanResult) : null;
  const download = (fileId: string, name: string) => downloadFile(session.key, fileId, name).catch((failure: unknown) => setError(message(failure)));
  return (
    <section class="card" aria-labelledby="run-title">
      <h2 id="run-title">
        Cleaning <a href={href(`/tasks/${task.id}`)}>{task.id.slice(0, 8)}…</a> <StatusBadge status={task.status} />
      </h2>
      <div class="progress-row">
        <progress max={100} value={task.progress?.percent ?? (task.status === 'completed' ? 100 : 0)} aria-label="Cleaning progress" />
        <span>{task.progress?.message ?? ''}</span>
      </div>
      {task.error && <p class="error">{`${task.error.code}: ${task.error.message}`}</p>}
      {result && (
        <>
          <div class="actions" role="group" aria-label="Downloads">
            <button type="button" onClick={() => void download(result.outputFileId, 'cleaned')}>
              Download cleaned file
            </button>
            <button type="button" class="secondary" onClick={() => void download(result.rejectsFileId, 'rejects')}>
              Download rejects
            </button>
            <button type="button" class="secondary" onClick={() => void download(result.reportFileId, 'report.json')}>
              Download report
            </button>
          </div>
          <pre tabIndex={0} data-testid="report">
            {json(result.report)}
          </pre>
        </>
      )}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {!TERMINAL.includes(task.status) && <span class="live">live</span>}
    </section>
  );
}

/** Upload a file, pick the cleaning rules (form or JSON), watch it run, download the results. */
export function FilesView({ session, params }: { session: Session; params: URLSearchParams }) {
  const running = params.get('task');
  const recent = usePolled(() => call<TaskPage>(session.key, 'GET', '/v1/tasks?type=file.clean&limit=10'), 5000, [session.key, running]);
  const [file, setFile] = useState<File | null>(null);
  const [mode, setMode] = useState<'form' | 'json'>('form');
  const [switches, setSwitches] = useState<Record<string, boolean>>({ trimWhitespace: true });
  const [normalizeHeaders, setNormalizeHeaders] = useState(false);
  const [dedupe, setDedupe] = useState(false);
  const [dedupeColumns, setDedupeColumns] = useState('');
  const [rulesJson, setRulesJson] = useState('{\n  "trimWhitespace": true\n}');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const writable = can(session, 'tasks:write');

  const switchMode = (next: 'form' | 'json') => {
    if (next === 'json') setRulesJson(JSON.stringify(rulesOf(switches, dedupe, dedupeColumns, normalizeHeaders), null, 2));
    setMode(next);
  };
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    if (!file) return;
    let rules: unknown;
    try {
      rules = mode === 'json' ? JSON.parse(rulesJson) : rulesOf(switches, dedupe, dedupeColumns, normalizeHeaders);
    } catch {
      setError('The rules are not valid JSON.');
      return;
    }
    setBusy(true);
    try {
      // Fields before the file: the API reads the rules first and refuses bad ones before storing anything.
      const form = new FormData();
      form.append('rules', JSON.stringify(rules));
      form.append('file', file, file.name);
      const response = await fetch('/v1/cleaning-jobs', { method: 'POST', headers: { authorization: `Bearer ${session.key}` }, body: form });
      const body = (await response.json()) as { task?: { id: string }; error?: { code: string; message: string } };
      if (!response.ok || !body.task) throw new ApiError(response.status, body.error?.code ?? `HTTP_${response.status}`, body.error?.message ?? 'refused');
      location.hash = href('/files', { task: body.task.id });
    } catch (failure) {
      setError(message(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="files-title">
      <h1 id="files-title">Files and cleaning</h1>
      {writable && (
        <form class="stacked" onSubmit={submit} aria-label="Clean a file">
          <label for="clean-file">File (CSV, TSV or JSON Lines)</label>
          <input id="clean-file" type="file" required onChange={(event) => setFile(event.currentTarget.files?.[0] ?? null)} />
          <fieldset>
            <legend>Rules</legend>
            <div class="row" role="radiogroup" aria-label="Rules as">
              <label class="inline">
                <input type="radio" name="rules-mode" checked={mode === 'form'} onChange={() => switchMode('form')} /> Form
              </label>
              <label class="inline">
                <input type="radio" name="rules-mode" checked={mode === 'json'} onChange={() => switchMode('json')} /> JSON
              </label>
            </div>
            {mode === 'form' ? (
              <div class="rules-form">
                {SWITCHES.map(([name, label]) => (
                  <label key={name} class="inline">
                    <input type="checkbox" checked={!!switches[name]} onChange={(event) => setSwitches({ ...switches, [name]: event.currentTarget.checked })} />{' '}
                    {label}
                  </label>
                ))}
                <label class="inline">
                  <input type="checkbox" checked={normalizeHeaders} onChange={(event) => setNormalizeHeaders(event.currentTarget.checked)} /> Normalize headers
                </label>
                <label class="inline">
                  <input type="checkbox" checked={dedupe} onChange={(event) => setDedupe(event.currentTarget.checked)} /> Remove duplicate rows
                </label>
                {dedupe && (
                  <label>
                    Compare only these columns (comma-separated; empty: whole rows)
                    <input value={dedupeColumns} onInput={(event) => setDedupeColumns(event.currentTarget.value)} />
                  </label>
                )}
                <p class="hint">Column types, renames and the other rules: switch to JSON.</p>
              </div>
            ) : (
              <>
                <label for="rules-json">Rules (JSON)</label>
                <textarea id="rules-json" rows={8} spellcheck={false} value={rulesJson} onInput={(event) => setRulesJson(event.currentTarget.value)} />
              </>
            )}
          </fieldset>
          <button type="submit" disabled={busy || !file}>
            Upload and clean
          </button>
          {error && (
            <p role="alert" class="error">
              {error}
            </p>
          )}
        </form>
      )}
      {running && <CleaningRun key={running} session={session} id={running} />}
      <h2>Recent cleanings</h2>
      {recent.data && recent.data.tasks.length === 0 && <p class="empty">None yet.</p>}
      <ul class="plain">
        {recent.data?.tasks.map((task) => (
          <li key={task.id}>
            <a href={href('/files', { task: task.id })} class="mono">
              {task.id}
            </a>{' '}
            <StatusBadge status={task.status} /> <span class="hint">{when(task.createdAt)}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
