import { useMemo, useState } from 'preact/hooks';
import { call, type Session, type TaskView } from '../api';
import { message } from '../format';
import { usePolled } from '../hooks';
import { navigate } from '../router';

interface TaskType {
  type: string;
  description?: string;
  payloadSchema?: { examples?: unknown[] };
}

/** Enqueue one task (`POST /v1/tasks`); "Duplicate and edit" on a task lands here pre-filled. */
export function NewTask({ session, params }: { session: Session; params: URLSearchParams }) {
  const types = usePolled(() => call<{ taskTypes: TaskType[] }>(session.key, 'GET', '/v1/task-types'), 0, [session.key]);
  const [type, setType] = useState(params.get('type') ?? '');
  const [payload, setPayload] = useState(params.get('payload') ?? '{}');
  const [priority, setPriority] = useState('');
  const [maxAttempts, setMaxAttempts] = useState('');
  const [tags, setTags] = useState(params.get('tags') ?? '');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // One key per form: a double click or a resend after a network error never enqueues twice.
  const idempotencyKey = useMemo(() => crypto.randomUUID(), [type, payload, priority, maxAttempts, tags]);
  const description = types.data?.taskTypes.find((t) => t.type === type)?.description;

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      setError('The payload is not valid JSON.');
      return;
    }
    setBusy(true);
    try {
      const task = await call<TaskView>(session.key, 'POST', '/v1/tasks', {
        type,
        payload: parsed,
        idempotencyKey,
        ...(priority ? { priority: Number(priority) } : {}),
        ...(maxAttempts ? { maxAttempts: Number(maxAttempts) } : {}),
        ...(tags.trim()
          ? {
              tags: tags
                .split(',')
                .map((tag) => tag.trim())
                .filter(Boolean),
            }
          : {}),
      });
      navigate(`/tasks/${task.id}`);
    } catch (failure) {
      setError(message(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="new-title">
      <h1 id="new-title">New task</h1>
      <form class="stacked" onSubmit={submit}>
        <label for="new-type">Type</label>
        <select id="new-type" required value={type} onChange={(event) => setType(event.currentTarget.value)}>
          <option value="">choose a task type</option>
          {(types.data?.taskTypes ?? []).map((t) => (
            <option key={t.type} value={t.type}>
              {t.type}
            </option>
          ))}
        </select>
        {description && <p class="hint">{description}</p>}
        <label for="new-payload">Payload (JSON)</label>
        <textarea id="new-payload" rows={10} spellcheck={false} value={payload} onInput={(event) => setPayload(event.currentTarget.value)} />
        <div class="row">
          <label>
            Priority (1 highest … 10)
            <input type="number" min={1} max={10} value={priority} onInput={(event) => setPriority(event.currentTarget.value)} />
          </label>
          <label>
            Max attempts
            <input type="number" min={1} max={100} value={maxAttempts} onInput={(event) => setMaxAttempts(event.currentTarget.value)} />
          </label>
          <label>
            Tags (comma-separated)
            <input value={tags} onInput={(event) => setTags(event.currentTarget.value)} />
          </label>
        </div>
        <button type="submit" disabled={busy || !type}>
          Enqueue
        </button>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}
