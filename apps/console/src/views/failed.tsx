import { useState } from 'preact/hooks';
import { call, can, type Session, type TaskPage, type TaskView } from '../api';
import { message, when } from '../format';
import { usePolled } from '../hooks';
import { href } from '../router';

/** The newest failures read into the inbox; older ones are reached through the Tasks list. */
const INBOX_SIZE = 200;

interface Group {
  key: string;
  type: string;
  code: string;
  tasks: TaskView[];
}

function groupsOf(tasks: TaskView[]): Group[] {
  const groups = new Map<string, Group>();
  for (const task of tasks) {
    const code = task.error?.code ?? 'UNKNOWN';
    const key = `${task.type}\u0000${code}`;
    const group = groups.get(key) ?? { key, type: task.type, code, tasks: [] };
    group.tasks.push(task);
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => b.tasks.length - a.tasks.length);
}

/** Runs `action` over the ids a few at a time; returns how many failed and the first reason. */
async function forEach(ids: string[], action: (id: string) => Promise<unknown>): Promise<{ failed: number; reason?: string }> {
  let failed = 0;
  let reason: string | undefined;
  const queue = [...ids];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let id = queue.shift(); id; id = queue.shift()) {
        try {
          await action(id);
        } catch (error) {
          failed += 1;
          reason ??= message(error);
        }
      }
    }),
  );
  return { failed, reason };
}

/** Failed tasks grouped by type and error code, with retry by selection or by filter. */
export function FailedInbox({ session }: { session: Session }) {
  const inbox = usePolled(() => call<TaskPage>(session.key, 'GET', `/v1/tasks?status=failed&limit=${INBOX_SIZE}`), 5000, [session.key]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const writable = can(session, 'tasks:write');
  const groups = groupsOf(inbox.data?.tasks ?? []);

  const toggle = (ids: string[], on: boolean) => {
    const next = new Set(selected);
    for (const id of ids) {
      if (on) next.add(id);
      else next.delete(id);
    }
    setSelected(next);
  };
  const done = (what: string, count: number, outcome: { failed: number; reason?: string }) => {
    setNotice(`${what} ${count - outcome.failed} of ${count}${outcome.failed ? `; ${outcome.failed} refused (${outcome.reason})` : ''}.`);
    setSelected(new Set());
    inbox.reload();
  };
  const retrySelected = async () => {
    setBusy(true);
    const ids = [...selected];
    done('Retried', ids.length, await forEach(ids, (id) => call(session.key, 'POST', `/v1/tasks/${id}/retry`)));
    setBusy(false);
  };
  const retryType = async (type: string) => {
    setBusy(true);
    try {
      const answer = await call<{ retried: string[]; skipped: string[] }>(session.key, 'POST', '/v1/tasks/retry', { type, status: 'failed', limit: 1000 });
      setNotice(
        `Retried ${answer.retried.length} failed ${type} task${answer.retried.length === 1 ? '' : 's'}${answer.skipped.length ? `; ${answer.skipped.length} skipped` : ''}.`,
      );
      setSelected(new Set());
      inbox.reload();
    } catch (error) {
      setNotice(message(error));
    }
    setBusy(false);
  };

  return (
    <section aria-labelledby="failed-title">
      <h1 id="failed-title">Failed inbox</h1>
      <p class="hint">
        The newest {INBOX_SIZE} failed tasks, grouped by type and error code. Retrying puts a task back in its queue with a fresh attempt budget.
      </p>
      {writable && (
        <div class="actions" role="group" aria-label="Bulk actions">
          <button type="button" disabled={busy || selected.size === 0} onClick={() => void retrySelected()}>
            Retry selected ({selected.size})
          </button>
        </div>
      )}
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      {inbox.error && (
        <p role="alert" class="error">
          {inbox.error}
        </p>
      )}
      {inbox.data && groups.length === 0 && <p class="empty">No failed tasks.</p>}
      {groups.map((group) => {
        const ids = group.tasks.map((task) => task.id);
        const all = ids.every((id) => selected.has(id));
        return (
          <details key={group.key} class="group" open={groups.length <= 3}>
            <summary>
              <span class="mono">{group.type}</span> · <strong>{group.code}</strong> · {group.tasks.length} task{group.tasks.length === 1 ? '' : 's'}
              <span class="hint"> — {group.tasks[0].error?.message}</span>
            </summary>
            {writable && (
              <div class="actions">
                <label>
                  <input type="checkbox" checked={all} onChange={(event) => toggle(ids, event.currentTarget.checked)} /> Select all {group.tasks.length}
                </label>
                <button type="button" class="secondary" disabled={busy} onClick={() => void retryType(group.type)}>
                  Retry every failed {group.type}
                </button>
              </div>
            )}
            <ul class="plain">
              {group.tasks.map((task) => (
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
                  <span class="hint">failed {when(task.finishedAt)}</span>
                </li>
              ))}
            </ul>
          </details>
        );
      })}
    </section>
  );
}
