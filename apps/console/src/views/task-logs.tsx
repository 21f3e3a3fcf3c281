import { useEffect, useState } from 'preact/hooks';
import { call, type Session } from '../api';
import { json, message, when } from '../format';

interface TaskLogLine {
  id: string;
  attempt: number;
  level: string;
  message: string;
  fields: Record<string, unknown> | null;
  loggedAt: string;
}

/** Lines shown at most; the API pages further with `cursor`. */
const SHOWN = 200;

/**
 * What the task's handler logged with `ctx.log` (GET /v1/tasks/:id/logs), oldest first. Read
 * again whenever `version` changes: the detail view bumps it as the task's state moves on.
 */
export function TaskLogs({ session, taskId, version }: { session: Session; taskId: string; version: string }) {
  const [lines, setLines] = useState<TaskLogLine[] | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    call<{ lines: TaskLogLine[]; nextCursor: string | null }>(session.key, 'GET', `/v1/tasks/${taskId}/logs?limit=${SHOWN}`)
      .then((page) => {
        if (abort.signal.aborted) return;
        setLines(page.lines);
        setMore(page.lines.length === SHOWN);
        setError(null);
      })
      .catch((failure: unknown) => !abort.signal.aborted && setError(message(failure)));
    return () => abort.abort();
  }, [session.key, taskId, version]);

  return (
    <section aria-labelledby="logs-title">
      <h2 id="logs-title">Logs</h2>
      {error ? (
        <p role="alert" class="error">
          {error}
        </p>
      ) : !lines ? (
        <p aria-busy="true">Loading…</p>
      ) : lines.length === 0 ? (
        <p class="empty">No lines: its handler logged nothing with ctx.log.</p>
      ) : (
        <table data-testid="task-logs">
          <thead>
            <tr>
              <th scope="col">Attempt</th>
              <th scope="col">Time</th>
              <th scope="col">Level</th>
              <th scope="col">Message</th>
            </tr>
          </thead>
          <tbody>
            {lines.map((line) => (
              <tr key={line.id} class={`log-${line.level}`}>
                <td>{line.attempt}</td>
                <td title={line.loggedAt}>{when(line.loggedAt)}</td>
                <td>{line.level}</td>
                <td>
                  {line.message}
                  {line.fields && <pre class="log-fields">{json(line.fields)}</pre>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {more && (
        <p class="empty">
          The first {SHOWN} lines; the API pages through the rest (GET /v1/tasks/{taskId}/logs?cursor=…).
        </p>
      )}
    </section>
  );
}
