import { useState } from 'preact/hooks';
import { call, type Session, type TaskPage } from '../api';
import { when } from '../format';
import { usePolled } from '../hooks';
import { href } from '../router';
import { StatusBadge } from './status-badge';

interface ExportView {
  id: string;
  status: string;
  source: string;
  format: string;
  rows: number | null;
  bytes: number | null;
  downloadUrl: string | null;
  expiresAt: string | null;
  error: { code: string; message: string } | null;
}

function ExportDetail({ session, id }: { session: Session; id: string }) {
  const detail = usePolled(() => call<ExportView>(session.key, 'GET', `/v1/exports/${id}`), 0, [session.key, id]);
  if (detail.error) return <p class="error">{detail.error}</p>;
  if (!detail.data) return <p aria-busy="true">Loading…</p>;
  const view = detail.data;
  return (
    <p>
      {view.source} → {view.format}
      {view.rows !== null && ` · ${view.rows} rows, ${view.bytes} bytes`}
      {view.downloadUrl && (
        <>
          {' '}
          · <a href={view.downloadUrl}>download</a> (signed link, until {when(view.expiresAt)})
        </>
      )}
      {view.error && ` · ${view.error.code}: ${view.error.message}`}
    </p>
  );
}

/** Read-only: the tenant's exports (their `export.create` tasks), each with `GET /v1/exports/:id` on demand. */
export function ExportsView({ session }: { session: Session }) {
  const list = usePolled(() => call<TaskPage>(session.key, 'GET', '/v1/tasks?type=export.create&limit=25'), 10_000, [session.key]);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <section aria-labelledby="exports-title">
      <h1 id="exports-title">Exports</h1>
      {list.error && (
        <p role="alert" class="error">
          {list.error}
        </p>
      )}
      {list.data && list.data.tasks.length === 0 && <p class="empty">No exports.</p>}
      {list.data?.tasks.map((task) => (
        <article key={task.id} class="group" aria-label={`Export ${task.id}`}>
          <div class="group-head">
            <button
              type="button"
              class="secondary"
              aria-expanded={open === task.id}
              aria-label={`Details of export ${task.id}`}
              onClick={() => setOpen(open === task.id ? null : task.id)}
            >
              {open === task.id ? '▾' : '▸'}
            </button>
            <a href={href(`/tasks/${task.id}`)} class="mono">
              {task.id}
            </a>
            <StatusBadge status={task.status} />
            <span class="hint">{when(task.createdAt)}</span>
          </div>
          {open === task.id && <ExportDetail session={session} id={task.id} />}
        </article>
      ))}
    </section>
  );
}
