import { useEffect, useState } from 'preact/hooks';
import { call, can, type Session } from '../api';
import { message } from '../format';
import { usePolled } from '../hooks';

interface QueueView {
  name: string;
  paused: boolean;
  workers: number;
  counts: Record<string, number>;
  taskTypes: string[];
}

/** Samples kept per queue for the chart: 5 minutes at one every 5 s. */
const SAMPLES = 60;
const SHOWN_STATES = ['waiting', 'active', 'delayed', 'failed'];
const COLORS: Record<string, string> = { waiting: '#1d5fbf', active: '#a15c00', delayed: '#6b4fbb', failed: '#b3261e' };

/** Depth by state over the minutes this page has been open, as a small line chart. */
function DepthChart({ name, samples }: { name: string; samples: Array<Record<string, number>> }) {
  const width = 320;
  const height = 80;
  const max = Math.max(1, ...samples.flatMap((sample) => SHOWN_STATES.map((state) => sample[state] ?? 0)));
  const x = (i: number) => (samples.length <= 1 ? width : (i / (SAMPLES - 1)) * width);
  const y = (value: number) => height - (value / max) * (height - 4) - 2;
  return (
    <figure class="chart">
      <svg width={width} height={height} role="img" aria-label={`${name}: depth by state over the last ${samples.length} samples, peak ${max}`}>
        {SHOWN_STATES.map((state) => (
          <polyline
            key={state}
            fill="none"
            stroke={COLORS[state]}
            stroke-width="2"
            points={samples.map((sample, i) => `${x(i + SAMPLES - samples.length).toFixed(1)},${y(sample[state] ?? 0).toFixed(1)}`).join(' ')}
          />
        ))}
      </svg>
      <figcaption>
        {SHOWN_STATES.map((state) => (
          <span key={state} class="legend">
            <span class="swatch" style={{ background: COLORS[state] }} aria-hidden="true" /> {state}
          </span>
        ))}
        <span class="hint"> · peak {max}</span>
      </figcaption>
    </figure>
  );
}

/**
 * Admin controls of one queue, applied by every worker at runtime: pause / resume, and the
 * concurrency per worker (empty: back to each worker's WORKER_CONCURRENCY).
 */
function QueueControls({ session, queue, changed }: { session: Session; queue: QueueView; changed: () => void }) {
  const [concurrency, setConcurrency] = useState('');
  const [notice, setNotice] = useState<string | null>(null);
  const run = async (method: string, path: string, body: unknown, done: string) => {
    setNotice(null);
    try {
      await call(session.key, method, path, body);
      setNotice(done);
      changed();
    } catch (failure) {
      setNotice(message(failure));
    }
  };
  const path = `/v1/queues/${encodeURIComponent(queue.name)}`;
  return (
    <form
      class="queue-controls"
      onSubmit={(event) => {
        event.preventDefault();
        const value = concurrency.trim() === '' ? null : Number(concurrency);
        void run('PATCH', path, { concurrency: value }, value === null ? 'Concurrency back to each worker’s own.' : `Concurrency ${value} per worker.`);
      }}
    >
      <button type="button" onClick={() => void run('POST', `${path}/${queue.paused ? 'resume' : 'pause'}`, undefined, queue.paused ? 'Resumed.' : 'Paused.')}>
        {queue.paused ? 'Resume' : 'Pause'} {queue.name}
      </button>
      <label>
        Concurrency of {queue.name} per worker
        <input type="number" min={1} max={1000} inputMode="numeric" value={concurrency} onInput={(event) => setConcurrency(event.currentTarget.value)} />
      </label>
      <button type="submit" class="secondary">
        Apply
      </button>
      {notice && (
        <span role="status" class="notice">
          {notice}
        </span>
      )}
    </form>
  );
}

export function QueuesView({ session }: { session: Session }) {
  const queues = usePolled(() => call<{ queues: QueueView[] }>(session.key, 'GET', '/v1/queues'), 5000, [session.key]);
  const [history, setHistory] = useState<Record<string, Array<Record<string, number>>>>({});
  useEffect(() => {
    if (!queues.data) return;
    setHistory((previous) => {
      const next: typeof previous = {};
      for (const queue of queues.data!.queues) next[queue.name] = [...(previous[queue.name] ?? []), queue.counts].slice(-SAMPLES);
      return next;
    });
  }, [queues.data]);

  return (
    <section aria-labelledby="queues-title">
      <h1 id="queues-title">Queues</h1>
      {can(session, 'admin') && (
        <p>
          <a href="/admin/queues" target="_blank" rel="noopener">
            Open Bull Board (Redis jobs, admin)
          </a>
        </p>
      )}
      {queues.error && (
        <p role="alert" class="error">
          {queues.error}
        </p>
      )}
      <div class="queue-grid">
        {queues.data?.queues.map((queue) => (
          <article key={queue.name} class="card" aria-labelledby={`queue-${queue.name}`}>
            <h2 id={`queue-${queue.name}`}>
              {queue.name} {queue.paused && <span class="badge paused">paused</span>}
            </h2>
            <p class="hint">
              {queue.workers} worker{queue.workers === 1 ? '' : 's'} · {queue.taskTypes.join(', ')}
            </p>
            <table class="compact">
              <caption class="sr-only">Jobs per state in {queue.name}</caption>
              <tbody>
                {Object.entries(queue.counts).map(([state, count]) => (
                  <tr key={state}>
                    <th scope="row">{state}</th>
                    <td data-testid={`depth-${queue.name}-${state}`}>{count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <DepthChart name={queue.name} samples={history[queue.name] ?? []} />
            {can(session, 'admin') && <QueueControls session={session} queue={queue} changed={queues.reload} />}
          </article>
        ))}
      </div>
    </section>
  );
}
