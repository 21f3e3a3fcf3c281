import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { call, query, STATUSES, type Session, type TaskPage } from '../api';
import { when } from '../format';
import { usePolled } from '../hooks';
import { href, navigate } from '../router';
import { StatusBadge } from './status-badge';

const FILTERS = ['type', 'status', 'tag', 'createdAfter', 'createdBefore', 'parentId', 'rootId', 'scheduleId', 'q'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

const iso = (local: string | undefined) => (local ? new Date(local).toISOString() : undefined);

function filtersOf(params: URLSearchParams): Filters {
  const filters: Filters = {};
  for (const name of FILTERS) filters[name] = params.get(name) ?? undefined;
  return filters;
}

function Field({ id, label, wide, children }: { id: string; label: string; wide?: boolean; children: ComponentChildren }) {
  return (
    <div class={wide ? 'field wide' : 'field'}>
      <label for={id}>{label}</label>
      {children}
    </div>
  );
}

/** The filter form; keyed by the URL's filters, so it starts afresh from them on every navigation. */
function FilterForm({ initial, types }: { initial: Filters; types: string[] }) {
  const [draft, setDraft] = useState<Filters>(initial);
  const set = (name: keyof Filters) => (event: Event) => setDraft({ ...draft, [name]: (event.currentTarget as HTMLInputElement).value || undefined });
  const apply = (event: Event) => {
    event.preventDefault();
    navigate('/tasks', draft);
  };
  return (
    <form class="filters" onSubmit={apply} aria-label="Filters">
      <Field id="f-type" label="Type">
        <select id="f-type" value={draft.type ?? ''} onChange={set('type')}>
          <option value="">any</option>
          {types.map((type) => (
            <option key={type}>{type}</option>
          ))}
        </select>
      </Field>
      <Field id="f-status" label="Status">
        <select id="f-status" value={draft.status ?? ''} onChange={set('status')}>
          <option value="">any</option>
          {STATUSES.map((status) => (
            <option key={status}>{status}</option>
          ))}
        </select>
      </Field>
      <Field id="f-tag" label="Tag">
        <input id="f-tag" value={draft.tag ?? ''} onInput={set('tag')} />
      </Field>
      <Field id="f-after" label="Created from">
        <input id="f-after" type="datetime-local" step="1" value={draft.createdAfter ?? ''} onInput={set('createdAfter')} />
      </Field>
      <Field id="f-before" label="Created before">
        <input id="f-before" type="datetime-local" step="1" value={draft.createdBefore ?? ''} onInput={set('createdBefore')} />
      </Field>
      <Field id="f-parent" label="Parent id">
        <input id="f-parent" value={draft.parentId ?? ''} onInput={set('parentId')} size={12} />
      </Field>
      <Field id="f-root" label="Root id">
        <input id="f-root" value={draft.rootId ?? ''} onInput={set('rootId')} size={12} />
      </Field>
      <Field id="f-q" label="Search payload, result, error" wide>
        <input id="f-q" type="search" value={draft.q ?? ''} onInput={set('q')} minLength={2} />
      </Field>
      <div class="buttons">
        <button type="submit">Apply filters</button>
        <a class="button secondary" href={href('/tasks')}>
          Clear
        </a>
      </div>
    </form>
  );
}

/** `GET /v1/tasks` with the filters of the URL; the first page refreshes itself, counts too. */
export function TasksView({ session, params }: { session: Session; params: URLSearchParams }) {
  const applied = filtersOf(params);
  const cursor = params.get('cursor') ?? undefined;
  const paramsKey = params.toString();

  const types = usePolled(() => call<{ taskTypes: Array<{ type: string }> }>(session.key, 'GET', '/v1/task-types'), 0, [session.key]);
  const counts = usePolled(
    () => call<{ counts: Record<string, number>; cap: number }>(session.key, 'GET', `/v1/tasks/counts${query({ type: applied.type })}`),
    3000,
    [session.key, applied.type],
  );
  const page = usePolled(
    () =>
      call<TaskPage>(
        session.key,
        'GET',
        `/v1/tasks${query({ ...applied, createdAfter: iso(applied.createdAfter), createdBefore: iso(applied.createdBefore), cursor, limit: '25' })}`,
      ),
    // Only the newest page follows new tasks live; older pages stay put while read.
    cursor ? 0 : 3000,
    [session.key, paramsKey],
  );

  const shown = (count: number, cap: number) => (count > cap ? `${cap.toLocaleString()}+` : count.toLocaleString());

  return (
    <section aria-labelledby="tasks-title">
      <h1 id="tasks-title">Tasks</h1>
      <ul class="counts" aria-label="Tasks per status" aria-live="polite">
        {STATUSES.map((status) => (
          <li key={status}>
            <a href={href('/tasks', { ...applied, status })} aria-current={applied.status === status ? 'true' : undefined} data-testid={`count-${status}`}>
              <span class={`dot ${status}`} aria-hidden="true" />
              {status} <strong>{counts.data ? shown(counts.data.counts[status] ?? 0, counts.data.cap) : '…'}</strong>
            </a>
          </li>
        ))}
      </ul>
      <FilterForm key={paramsKey} initial={applied} types={(types.data?.taskTypes ?? []).map((t) => t.type)} />
      {page.error && (
        <p role="alert" class="error">
          {page.error}
        </p>
      )}
      <table class="tasks">
        <caption class="sr-only">Tasks, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Type</th>
            <th scope="col">Status</th>
            <th scope="col">Progress</th>
            <th scope="col">Attempts</th>
            <th scope="col">Created</th>
            <th scope="col">Tags</th>
          </tr>
        </thead>
        <tbody>
          {page.data?.tasks.map((task) => (
            <tr key={task.id}>
              <td>
                <a href={href(`/tasks/${task.id}`)} class="mono">
                  {task.id.slice(0, 8)}…{task.id.slice(-4)}
                </a>
              </td>
              <td>{task.type}</td>
              <td>
                <StatusBadge status={task.status} />
              </td>
              <td>{task.progress?.percent !== undefined ? `${task.progress.percent}%` : ''}</td>
              <td>
                {task.attempts}/{task.maxAttempts}
              </td>
              <td title={task.createdAt}>{when(task.createdAt)}</td>
              <td>{task.tags.join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page.data && page.data.tasks.length === 0 && (
        <p class="empty">No tasks match{page.data.nextCursor ? ' in this stretch; search further back below' : ''}.</p>
      )}
      <nav class="pager" aria-label="Pages">
        {cursor && <a href={href('/tasks', applied)}>Newest</a>}
        {page.data?.nextCursor && <a href={href('/tasks', { ...applied, cursor: page.data.nextCursor })}>Older</a>}
      </nav>
    </section>
  );
}
