import { useState } from 'preact/hooks';
import { call, can, query, type Session, type TaskPage } from '../api';
import { message, when } from '../format';
import { usePolled } from '../hooks';
import { href } from '../router';

interface FailureGroup {
  type: string;
  errorCode: string | null;
  count: number;
  latestId: string;
}

interface BulkOutcome {
  done: string[];
  skipped: Array<{ id: string; code: string; message: string }>;
}

/** Tasks of a group shown for picking one by one; "Retry all" reaches the rest. */
const SHOWN = 50;

function summary(verb: string, outcome: BulkOutcome): string {
  const total = outcome.done.length + outcome.skipped.length;
  const skipped = outcome.skipped.length ? `; ${outcome.skipped.length} skipped (${outcome.skipped[0].code})` : '';
  return `${verb} ${outcome.done.length} of ${total}${skipped}.`;
}

/** One group's tasks, loaded when the group is opened. */
function GroupTasks({
  session,
  group,
  selected,
  toggle,
}: {
  session: Session;
  group: FailureGroup;
  selected: Set<string>;
  toggle: (ids: string[], on: boolean) => void;
}) {
  const page = usePolled(
    () =>
      call<TaskPage>(
        session.key,
        'GET',
        `/v1/tasks${query({ status: 'failed', type: group.type, errorCode: group.errorCode ?? undefined, limit: String(SHOWN) })}`,
      ),
    0,
    [session.key, group.type, group.errorCode, group.count],
  );
  const tasks = page.data?.tasks ?? [];
  const ids = tasks.map((task) => task.id);
  const writable = can(session, 'tasks:write');
  return (
    <div>
      {page.error && (
        <p role="alert" class="error">
          {page.error}
        </p>
      )}
      {writable && tasks.length > 0 && (
        <label class="inline">
          <input type="checkbox" checked={ids.every((id) => selected.has(id))} onChange={(event) => toggle(ids, event.currentTarget.checked)} /> Select the{' '}
          {tasks.length} shown
        </label>
      )}
      <ul class="plain">
        {tasks.map((task) => (
          <li key={task.id}>
            {writable && (
              <input
                type="checkbox"
                aria-label={`Select task ${task.id}`}
                checked={selected.has(task.id)}
                onChange={(event) => toggle([task.id], event.currentTarget.checked)}
              />
            )}{' '}
            <a href={href(`/tasks/${task.id}`)} class="mono">
              {task.id}
            </a>{' '}
            <span class="hint">
              failed {when(task.finishedAt)} · {task.error?.message}
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}

/**
 * Failed tasks grouped by type and error code (`GET /v1/tasks/failures`), with retry by
 * selection or by group (`POST /v1/tasks/bulk/retry`), and the tasks still retrying with bulk
 * cancel (`POST /v1/tasks/bulk/cancel`).
 */
export function FailedInbox({ session }: { session: Session }) {
  const groups = usePolled(() => call<{ groups: FailureGroup[]; window: number }>(session.key, 'GET', '/v1/tasks/failures'), 5000, [session.key]);
  const retrying = usePolled(() => call<TaskPage>(session.key, 'GET', `/v1/tasks?status=retrying&limit=${SHOWN}`), 5000, [session.key]);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [selectedRetrying, setSelectedRetrying] = useState<Set<string>>(new Set());
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const writable = can(session, 'tasks:write');

  const toggler = (set: Set<string>, update: (next: Set<string>) => void) => (ids: string[], on: boolean) => {
    const next = new Set(set);
    for (const id of ids) {
      if (on) next.add(id);
      else next.delete(id);
    }
    update(next);
  };
  const bulk = async (action: 'retry' | 'cancel', body: unknown) => {
    setBusy(true);
    setNotice(null);
    try {
      const outcome = await call<BulkOutcome>(session.key, 'POST', `/v1/tasks/bulk/${action}`, body);
      setNotice(summary(action === 'retry' ? 'Retried' : 'Cancelled', outcome));
      setSelected(new Set());
      setSelectedRetrying(new Set());
      groups.reload();
      retrying.reload();
    } catch (error) {
      setNotice(message(error));
    } finally {
      setBusy(false);
    }
  };
  const keyOf = (group: FailureGroup) => `${group.type} ${group.errorCode ?? ''}`;
  const list = groups.data?.groups ?? [];

  return (
    <section aria-labelledby="failed-title">
      <h1 id="failed-title">Failed inbox</h1>
      <p class="hint">
        Failed tasks grouped by type and error code (the newest {groups.data?.window.toLocaleString() ?? '…'}). Retrying runs a task again with a fresh attempt
        budget.
      </p>
      {writable && (
        <div class="actions" role="group" aria-label="Bulk actions">
          <button type="button" disabled={busy || selected.size === 0} onClick={() => void bulk('retry', { ids: [...selected] })}>
            Retry selected ({selected.size})
          </button>
        </div>
      )}
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      {groups.error && (
        <p role="alert" class="error">
          {groups.error}
        </p>
      )}
      {groups.data && list.length === 0 && <p class="empty">No failed tasks.</p>}
      {list.map((group) => {
        const key = keyOf(group);
        const isOpen = open.has(key);
        return (
          <article key={key} class="group" aria-label={`${group.type} ${group.errorCode ?? 'no code'}`}>
            <div class="group-head">
              <button
                type="button"
                class="secondary"
                aria-expanded={isOpen}
                onClick={() => toggler(open, setOpen)([key], !isOpen)}
                aria-label={`${isOpen ? 'Hide' : 'Show'} tasks of ${group.type} ${group.errorCode ?? ''}`}
              >
                {isOpen ? '▾' : '▸'}
              </button>
              <span class="mono">{group.type}</span>
              <strong>{group.errorCode ?? 'no code'}</strong>
              <span data-testid="group-count">
                {group.count} task{group.count === 1 ? '' : 's'}
              </span>
              <a href={href(`/tasks/${group.latestId}`)}>newest</a>
              {writable && (
                <button
                  type="button"
                  class="secondary"
                  disabled={busy}
                  onClick={() =>
                    void bulk('retry', { filter: { type: group.type, status: 'failed', ...(group.errorCode ? { errorCode: group.errorCode } : {}) } })
                  }
                >
                  Retry all {group.count}
                </button>
              )}
            </div>
            {isOpen && <GroupTasks session={session} group={group} selected={selected} toggle={toggler(selected, setSelected)} />}
          </article>
        );
      })}
      <h2>Still retrying</h2>
      <p class="hint">Tasks that failed an attempt and wait for the next one. Cancel them to stop further attempts.</p>
      {retrying.data && retrying.data.tasks.length === 0 && <p class="empty">None.</p>}
      {retrying.data && retrying.data.tasks.length > 0 && (
        <>
          {writable && (
            <div class="actions">
              <button type="button" disabled={busy || selectedRetrying.size === 0} onClick={() => void bulk('cancel', { ids: [...selectedRetrying] })}>
                Cancel selected ({selectedRetrying.size})
              </button>
              <button type="button" class="secondary" disabled={busy} onClick={() => void bulk('cancel', { filter: { status: 'retrying' } })}>
                Cancel every retrying task
              </button>
            </div>
          )}
          <ul class="plain">
            {retrying.data.tasks.map((task) => (
              <li key={task.id}>
                {writable && (
                  <input
                    type="checkbox"
                    aria-label={`Select retrying task ${task.id}`}
                    checked={selectedRetrying.has(task.id)}
                    onChange={(event) => toggler(selectedRetrying, setSelectedRetrying)([task.id], event.currentTarget.checked)}
                  />
                )}{' '}
                <a href={href(`/tasks/${task.id}`)} class="mono">
                  {task.id}
                </a>{' '}
                <span class="hint">
                  {task.type} · attempt {task.attempts} of {task.maxAttempts} · {task.error?.code}
                </span>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
