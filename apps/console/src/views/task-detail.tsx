import { useEffect, useState } from 'preact/hooks';
import { call, can, followEvents, TERMINAL, type Session, type TaskView } from '../api';
import { duration, json, message, when } from '../format';
import { href, navigate } from '../router';
import { FlowSection } from './flow-section';
import { ScheduleOrigin } from './schedule-origin';
import { StatusBadge } from './status-badge';
import { TaskLogs } from './task-logs';

/** A shell command that reads the task again, for a terminal or a bug report (the key left as a variable). */
function curlOf(task: TaskView): string {
  return `curl -s -H "Authorization: Bearer $CONVEYOR_API_KEY" ${location.origin}/v1/tasks/${task.id}`;
}

/** One task: the ledger record, live over SSE until terminal, with the actions its status allows. */
export function TaskDetail({ session, id }: { session: Session; id: string }) {
  const [task, setTask] = useState<TaskView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    setError(null);
    call<TaskView>(session.key, 'GET', `/v1/tasks/${id}`)
      .then((loaded) => {
        if (abort.signal.aborted) return;
        setTask(loaded);
        if (TERMINAL.includes(loaded.status)) return;
        setLive(true);
        void followEvents(
          session.key,
          id,
          ({ event, data }) => {
            if (event === 'status' || event === 'progress') setTask((previous) => (previous ? { ...previous, ...data } : previous));
          },
          abort.signal,
        ).finally(() => {
          if (abort.signal.aborted) return;
          setLive(false);
          // The stream's last event has the status; the children and result are read once more.
          void call<TaskView>(session.key, 'GET', `/v1/tasks/${id}`).then((final) => !abort.signal.aborted && setTask(final));
        });
      })
      .catch((failure: unknown) => !abort.signal.aborted && setError(message(failure)));
    return () => abort.abort();
  }, [session.key, id, generation]);

  if (error)
    return (
      <p role="alert" class="error">
        {error}
      </p>
    );
  if (!task) return <p aria-busy="true">Loading…</p>;

  const act = async (action: 'cancel' | 'retry') => {
    setNotice(null);
    try {
      const answer = await call<TaskView & { cancellation?: string }>(session.key, 'POST', `/v1/tasks/${task.id}/${action}`);
      setNotice(action === 'retry' ? 'Queued again.' : answer.cancellation === 'cancelling' ? 'Its worker has been told to stop.' : 'Cancelled.');
      setGeneration((n) => n + 1);
    } catch (failure) {
      setNotice(message(failure));
    }
  };
  const copyCurl = async () => {
    const text = curlOf(task);
    try {
      await navigator.clipboard.writeText(text);
      setNotice('Copied the curl command.');
    } catch {
      setNotice(text);
    }
  };
  const writable = can(session, 'tasks:write');
  const terminal = TERMINAL.includes(task.status);
  const percent = task.progress?.percent ?? (task.status === 'completed' ? 100 : 0);

  return (
    <section aria-labelledby="task-title">
      <p>
        <a href={href('/tasks')}>← Tasks</a>
      </p>
      <h1 id="task-title">
        {task.type} <StatusBadge status={task.status} />
      </h1>
      <p class="mono">{task.id}</p>
      <div class="progress-row">
        <progress max={100} value={percent} aria-label="Progress" />
        <span data-testid="progress-text">
          {percent}%{task.progress?.message ? ` · ${task.progress.message}` : ''}
        </span>
        {live && <span class="live">live</span>}
      </div>
      <div class="actions" role="group" aria-label="Actions">
        {writable && !terminal && (
          <button type="button" onClick={() => void act('cancel')}>
            Cancel
          </button>
        )}
        {writable && ['failed', 'cancelled', 'expired'].includes(task.status) && (
          <button type="button" onClick={() => void act('retry')}>
            Retry
          </button>
        )}
        {writable && (
          <button
            type="button"
            class="secondary"
            onClick={() => navigate('/new', { type: task.type, payload: JSON.stringify(task.payload, null, 2), tags: task.tags.join(',') })}
          >
            Duplicate and edit
          </button>
        )}
        <button type="button" class="secondary" onClick={() => void copyCurl()}>
          Copy as curl
        </button>
      </div>
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      <dl class="facts">
        <dt>Queue</dt>
        <dd>{task.queue}</dd>
        <dt>Priority</dt>
        <dd>{task.priority}</dd>
        <dt>Attempts</dt>
        <dd data-testid="attempts">
          {task.attempts} of {task.maxAttempts}
        </dd>
        <dt>Worker (last attempt)</dt>
        <dd>{task.workerId ?? '—'}</dd>
        <dt>Created</dt>
        <dd title={task.createdAt}>{when(task.createdAt)}</dd>
        <dt>Scheduled for</dt>
        <dd>{when(task.scheduledFor)}</dd>
        <dt>Started (last attempt)</dt>
        <dd>{when(task.startedAt)}</dd>
        <dt>Finished</dt>
        <dd>{when(task.finishedAt)}</dd>
        <dt>Ran for</dt>
        <dd>{duration(task.startedAt, task.finishedAt)}</dd>
        <dt>Timeout</dt>
        <dd>{task.timeoutMs} ms</dd>
        <dt>Tags</dt>
        <dd>{task.tags.length ? task.tags.join(', ') : '—'}</dd>
        <dt>Idempotency key</dt>
        <dd>{task.idempotencyKey ?? '—'}</dd>
        <dt>Client id</dt>
        <dd>{task.clientId ?? '—'}</dd>
        <dt>Trace</dt>
        <dd class="mono">{task.traceId ?? '—'}</dd>
        <dt>Parent</dt>
        <dd>{task.parentId ? <a href={href(`/tasks/${task.parentId}`)}>{task.parentId}</a> : '—'}</dd>
        <dt>Flow / chain</dt>
        <dd>{task.rootId ? <a href={href('/tasks', { rootId: task.rootId })}>every task of root {task.rootId.slice(0, 8)}…</a> : '—'}</dd>
        <dt>Schedule</dt>
        <dd>{task.scheduleId ? <ScheduleOrigin session={session} scheduleId={task.scheduleId} tick={task.scheduledTick} /> : '—'}</dd>
      </dl>
      <div class="json-grid">
        <section aria-labelledby="payload-title">
          <h2 id="payload-title">Payload</h2>
          <pre tabIndex={0}>{json(task.payload)}</pre>
        </section>
        <section aria-labelledby="result-title">
          <h2 id="result-title">Result</h2>
          <pre tabIndex={0} data-testid="result">
            {json(task.result)}
          </pre>
        </section>
        <section aria-labelledby="error-title">
          <h2 id="error-title">Error</h2>
          <pre tabIndex={0} data-testid="error">
            {json(task.error)}
          </pre>
        </section>
      </div>
      <TaskLogs session={session} taskId={task.id} version={`${task.status}:${task.attempts}`} />
      <FlowSection session={session} task={task} />
    </section>
  );
}
