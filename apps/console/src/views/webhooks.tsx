import { useState } from 'preact/hooks';
import { call, type Session } from '../api';
import { when } from '../format';
import { usePolled } from '../hooks';
import { href } from '../router';

interface Endpoint {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  enabled: boolean;
  failingSince: string | null;
  disabledReason: string | null;
}

interface Delivery {
  id: string;
  eventType: string;
  taskId: string | null;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
}

function Deliveries({ session, endpointId }: { session: Session; endpointId: string }) {
  const list = usePolled(() => call<{ deliveries: Delivery[] }>(session.key, 'GET', `/v1/webhooks/endpoints/${endpointId}/deliveries?limit=25`), 5000, [
    session.key,
    endpointId,
  ]);
  if (list.error)
    return (
      <p role="alert" class="error">
        {list.error}
      </p>
    );
  if (!list.data) return <p aria-busy="true">Loading…</p>;
  if (list.data.deliveries.length === 0) return <p class="empty">No deliveries yet.</p>;
  return (
    <table class="compact-rows">
      <caption class="sr-only">Latest deliveries</caption>
      <thead>
        <tr>
          <th scope="col">Event</th>
          <th scope="col">Status</th>
          <th scope="col">Attempts</th>
          <th scope="col">Last answer</th>
          <th scope="col">Created</th>
        </tr>
      </thead>
      <tbody>
        {list.data.deliveries.map((delivery) => (
          <tr key={delivery.id}>
            <td>
              {delivery.eventType}
              {delivery.taskId && (
                <>
                  {' '}
                  <a href={href(`/tasks/${delivery.taskId}`)}>task</a>
                </>
              )}
            </td>
            <td>{delivery.status}</td>
            <td>{delivery.attempts}</td>
            <td>{delivery.lastStatusCode ?? delivery.lastError ?? '—'}</td>
            <td>{when(delivery.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Read-only: webhook endpoints (`GET /v1/webhooks/endpoints`) and each one's latest deliveries. */
export function WebhooksView({ session }: { session: Session }) {
  const list = usePolled(() => call<{ endpoints: Endpoint[] }>(session.key, 'GET', '/v1/webhooks/endpoints?limit=100'), 10_000, [session.key]);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <section aria-labelledby="webhooks-title">
      <h1 id="webhooks-title">Webhooks</h1>
      {list.error && (
        <p role="alert" class="error">
          {list.error}
        </p>
      )}
      {list.data && list.data.endpoints.length === 0 && <p class="empty">No webhook endpoints.</p>}
      {list.data?.endpoints.map((endpoint) => (
        <article key={endpoint.id} class="group" aria-label={`Endpoint ${endpoint.url}`}>
          <div class="group-head">
            <button
              type="button"
              class="secondary"
              aria-expanded={open === endpoint.id}
              aria-label={`${open === endpoint.id ? 'Hide' : 'Show'} deliveries to ${endpoint.url}`}
              onClick={() => setOpen(open === endpoint.id ? null : endpoint.id)}
            >
              {open === endpoint.id ? '▾' : '▸'}
            </button>
            <span class="mono">{endpoint.url}</span>
            <span>{endpoint.events.join(', ')}</span>
            <span class={endpoint.enabled ? 'badge completed' : 'badge failed'}>
              {endpoint.enabled ? 'enabled' : `disabled${endpoint.disabledReason ? `: ${endpoint.disabledReason}` : ''}`}
            </span>
            {endpoint.failingSince && <span class="hint">failing since {when(endpoint.failingSince)}</span>}
          </div>
          {endpoint.description && <p class="hint">{endpoint.description}</p>}
          {open === endpoint.id && <Deliveries session={session} endpointId={endpoint.id} />}
        </article>
      ))}
    </section>
  );
}
