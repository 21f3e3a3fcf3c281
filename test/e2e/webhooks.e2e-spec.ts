import { Webhook } from 'standardwebhooks';
import { freePort, TestReceiver, uniqueName, waitFor, type AppProcess } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack, localWebhookEnv } from './support/stack';

const LOCK_MS = 2000;
const STALL_CHECK_MS = 1000;
const ACTIVATION_MS = 500;

interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  taskId: string | null;
  status: string;
  attempts: number;
}

/**
 * Webhooks through the built API and worker: task events delivered to a real receiver and
 * verified with the standardwebhooks library, the delivery log and redelivery, and the outbox
 * under kill -9 of the worker between the commit of a completion (with its event) and the
 * relay. The endpoint routes alone are tested in process (apps/api/test).
 */
describe('webhooks', () => {
  let stack: Stack;
  let receiver: TestReceiver;
  const workers: AppProcess[] = [];
  const call = (method: string, path: string, body?: unknown, key?: string) =>
    http(stack.apiUrl, method, path, body, key ? { authorization: `Bearer ${key}` } : {});
  const startWorker = async (env: Record<string, string> = {}) => {
    const worker = await stack.startWorker({ WORKER_ID: uniqueName('hw'), WORKER_HEALTH_PORT: String(await freePort()), ...env });
    workers.push(worker);
    return worker;
  };
  /** Creates an endpoint and waits until it is active (its `activeFrom` has passed). */
  const createEndpoint = async (body: Record<string, unknown>) => {
    const created = await call('POST', '/v1/webhooks/endpoints', body);
    expect(created.status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(created.body.activeFrom) - Date.now() + 50)));
    return created.body as { id: string; secret: string; activeFrom: string };
  };
  const deliveriesOf = async (endpointId: string, query = ''): Promise<Delivery[]> =>
    (await call('GET', `/v1/webhooks/endpoints/${endpointId}/deliveries${query}`)).body.deliveries;
  /** What the receiver got about a task (at one endpoint's path, or at any). */
  const receivedFor = (taskId: string, type: string, path?: string) =>
    receiver.received.filter((r) => {
      const body = JSON.parse(r.body);
      return body.type === type && body.data?.task?.id === taskId && (path === undefined || r.path === path);
    });

  beforeAll(async () => {
    receiver = await new TestReceiver().start();
    stack = await startStack({
      worker: false,
      env: {
        ...localWebhookEnv(ACTIVATION_MS),
        WORKER_LOCK_DURATION_MS: String(LOCK_MS),
        WORKER_STALLED_INTERVAL_MS: String(STALL_CHECK_MS),
      },
    });
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await stack?.stop();
    await receiver?.stop();
  });

  it('delivers task events signed, logs them, pings on request and redelivers', async () => {
    // WORKER_QUEUES may name the webhooks queue beside task queues.
    const worker = await startWorker({ WORKER_QUEUES: 'system,webhooks' });
    try {
      const hook = await createEndpoint({ url: receiver.url('/events'), events: ['task.completed', 'task.cancelled'] });
      const { body: task } = await call('POST', '/v1/tasks', { type: 'system.noop', payload: {} });
      expect((await waitForTerminal(stack.apiUrl, task.id)).status).toBe('completed');
      const [received] = await waitFor(() => (receivedFor(task.id, 'task.completed').length > 0 ? receivedFor(task.id, 'task.completed') : undefined), {
        what: 'the task.completed delivery',
      });
      const event = new Webhook(hook.secret).verify(received.body, received.headers as Record<string, string>) as { data: { task: { status: string } } };
      expect(event.data.task.status).toBe('completed');

      // A cancel by the API writes its event in the cancel's transaction.
      const { body: later } = await call('POST', '/v1/tasks', { type: 'system.noop', payload: {}, delayMs: 60_000 });
      expect((await call('POST', `/v1/tasks/${later.id}/cancel`)).status).toBe(200);
      await waitFor(() => receivedFor(later.id, 'task.cancelled').length === 1, { what: 'the task.cancelled delivery' });

      const log = await waitFor(
        async () => {
          const rows = await deliveriesOf(hook.id, `?taskId=${task.id}`);
          return rows.length === 1 && rows[0].status === 'succeeded' ? rows : undefined;
        },
        { what: 'the delivery log' },
      );
      expect(log[0]).toMatchObject({ eventType: 'task.completed', attempts: 1, eventId: received.headers['webhook-id'] });
      expect((await deliveriesOf(hook.id, '?eventType=task.cancelled')).map((d) => d.taskId)).toEqual([later.id]);
      const detail = await call('GET', `/v1/webhooks/deliveries/${log[0].id}`);
      expect(detail.body).toMatchObject({ status: 'succeeded', event: { type: 'task.completed' }, attemptLog: [{ attempt: 1, statusCode: 200, error: null }] });

      const ping = await call('POST', `/v1/webhooks/endpoints/${hook.id}/test`);
      expect(ping.status).toBe(202);
      await waitFor(() => receiver.received.some((r) => r.headers['webhook-id'] === ping.body.eventId), { what: 'the ping' });

      const again = await call('POST', `/v1/webhooks/deliveries/${log[0].id}/redeliver`);
      expect(again.status).toBe(202);
      await waitFor(() => receivedFor(task.id, 'task.completed').length === 2, { what: 'the redelivery' });
      expect(new Set(receivedFor(task.id, 'task.completed').map((r) => r.headers['webhook-id']))).toEqual(new Set([log[0].eventId]));
      expect((await call('POST', `/v1/webhooks/endpoints/${hook.id}/redeliver`, { since: new Date(0).toISOString() })).body).toEqual({ redelivered: 0 });
    } finally {
      await worker.stop();
    }
  });

  it('loses no event and sends none twice when the worker dies between the commit and the relay', async () => {
    const hook = await createEndpoint({ url: receiver.url('/crash'), events: ['task.completed'], filter: { taskTypes: ['system.sleep'] } });
    // The victim commits the completion (with its event), then dies before BullMQ or the relay hear of it.
    const victim = await startWorker({ CONVEYOR_FAILPOINTS: 'after-follow-up-commit', WEBHOOK_POLL_INTERVAL_MS: '60000' });
    const { body: parent } = await call('POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 50, followUps: 1 } });
    await waitFor(() => victim.child.exitCode !== null || victim.child.signalCode !== null, { what: 'the worker to die at the failpoint' });
    expect(victim.child.signalCode).toBe('SIGKILL');
    const pending = await deliveriesOf(hook.id, `?taskId=${parent.id}`);
    expect(pending.map((d) => [d.status, d.attempts])).toEqual([['pending', 0]]);
    expect(receivedFor(parent.id, 'task.completed', '/crash')).toHaveLength(0);

    // Another worker relays the event, takes the stalled parent over and completes it again:
    // that re-run writes the same transition, which makes no second event.
    await startWorker();
    await waitFor(
      async () => {
        const task = (await call('GET', `/v1/tasks/${parent.id}`)).body;
        return task.attempts === 2 && task.status === 'completed' ? task : undefined;
      },
      { timeoutMs: LOCK_MS + 3 * STALL_CHECK_MS + 15_000, what: 'the parent to run again on the other worker' },
    );
    await waitFor(() => receivedFor(parent.id, 'task.completed', '/crash').length === 1, { what: 'the task.completed delivery' });
    const final = await waitFor(
      async () => {
        const rows = await deliveriesOf(hook.id, `?taskId=${parent.id}`);
        return rows.every((d) => d.status === 'succeeded') ? rows : undefined;
      },
      { what: 'the delivery to succeed' },
    );
    expect(final).toHaveLength(1);
    // Give a wrongly written second event time to be delivered before counting.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(receivedFor(parent.id, 'task.completed', '/crash')).toHaveLength(1);
    expect(await deliveriesOf(hook.id, `?taskId=${parent.id}`)).toHaveLength(1);
  });
});
