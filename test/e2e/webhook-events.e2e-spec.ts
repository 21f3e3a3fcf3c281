import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { freePort, TestReceiver, uniqueName, waitFor, type AppProcess } from '@conveyor/testing';
import { http, startStack, TEST_ADMIN_KEY, waitForTerminal, type Stack, localWebhookEnv } from './support/stack';

const LOCK_MS = 2000;
const STALL_CHECK_MS = 1000;
const ACTIVATION_MS = 500;
const FIXTURES = join(__dirname, 'fixtures');

interface Event {
  id: string;
  type: string;
  data: Record<string, any>;
}

/**
 * The events beyond a task's status, through the built API and worker: per-task callbacks
 * (SSRF refusal at request time, one signed delivery verified with the tenant's callback
 * secret), flow nodes cancelled by `cancel-siblings` and the flow's `flow.completed`, and the
 * pipeline `file.clean` → `webhook.announce` under kill -9 of the worker right after the
 * cleaning's commit: `file.cleaned` and `pipeline.completed` each reach the receiver once.
 */
describe('webhook events', () => {
  let stack: Stack;
  let receiver: TestReceiver;
  const workers: AppProcess[] = [];
  const call = (method: string, path: string, body?: unknown) => http(stack.apiUrl, method, path, body);
  const startWorker = async (env: Record<string, string> = {}) => {
    const worker = await stack.startWorker({ WORKER_ID: uniqueName('ew'), WORKER_HEALTH_PORT: String(await freePort()), ...env });
    workers.push(worker);
    return worker;
  };
  const createEndpoint = async (path: string, events: string[]) => {
    const created = await call('POST', '/v1/webhooks/endpoints', { url: receiver.url(path), events });
    expect(created.status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(created.body.activeFrom) - Date.now() + 50)));
    return created.body as { id: string; secret: string };
  };
  /** Events the receiver got at `path`, verified with `secret`. */
  const receivedAt = (path: string, secret: string): Event[] =>
    receiver.received.filter((r) => r.path === path).map((r) => new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as Event);

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

  it('sends a task callback once, signed with the tenant callback secret, and refuses a forbidden callback URL', async () => {
    const tag = uniqueName('cb');
    const refused = await call('POST', '/v1/tasks/batch', {
      tasks: [
        { type: 'system.noop', payload: {}, tags: [tag] },
        { type: 'system.noop', payload: {}, tags: [tag], callback: { url: 'http://169.254.169.254/latest' } },
      ],
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatchObject({ code: 'WEBHOOK_URL_FORBIDDEN', details: [{ field: 'tasks[1].callback.url' }] });
    expect((await call('POST', '/v1/tasks', { type: 'system.noop', payload: {}, callback: 'x' })).body.error.code).toBe('VALIDATION_FAILED');
    expect((await call('GET', `/v1/tasks?tag=${tag}`)).body.tasks).toEqual([]);

    const worker = await startWorker({ WORKER_QUEUES: 'system,webhooks' });
    try {
      const accepted = await call('POST', '/v1/tasks', { type: 'system.noop', payload: {}, callback: { url: receiver.url('/callback/1') } });
      expect(accepted.status).toBe(202);
      expect(accepted.body.callback).toEqual({ url: receiver.url('/callback/1') });
      const secrets = await call('GET', '/v1/webhooks/callbacks');
      expect(secrets.body).toMatchObject({ secret: expect.stringMatching(/^whsec_/), previousSecretValidUntil: null });
      expect((await waitForTerminal(stack.apiUrl, accepted.body.id)).status).toBe('completed');
      const [event] = await waitFor(
        () => (receivedAt('/callback/1', secrets.body.secret).length > 0 ? receivedAt('/callback/1', secrets.body.secret) : undefined),
        {
          what: 'the callback',
        },
      );
      expect(event).toMatchObject({ type: 'task.completed', data: { task: { id: accepted.body.id, status: 'completed' } } });
      const log = (await call('GET', `/v1/webhooks/endpoints/${secrets.body.endpointId}/deliveries?taskId=${accepted.body.id}`)).body.deliveries;
      expect(log).toEqual([expect.objectContaining({ eventType: 'task.completed', eventId: event.id })]);
      // Not an endpoint: it does not show among them and cannot be changed as one.
      expect((await call('GET', '/v1/webhooks/endpoints')).body.endpoints.map((e: { id: string }) => e.id)).not.toContain(secrets.body.endpointId);
      expect((await call('DELETE', `/v1/webhooks/endpoints/${secrets.body.endpointId}`)).status).toBe(404);
    } finally {
      await worker.stop();
    }
  });

  it('writes task.cancelled for siblings a failing flow node cancels, and flow.completed once for the root', async () => {
    const hook = await createEndpoint('/flows', ['task.cancelled', 'flow.completed']);
    const worker = await startWorker({ WORKER_QUEUES: 'system,webhooks' });
    try {
      const flow = await call('POST', '/v1/flows', {
        type: 'system.gather',
        payload: {},
        children: [
          { type: 'system.sleep', payload: { ms: 10, failTimes: 5 }, maxAttempts: 1, onFailure: 'cancel-siblings' },
          { type: 'system.sleep', payload: { ms: 60_000 } },
        ],
      });
      expect(flow.status).toBe(202);
      const rootId: string = flow.body.id;
      const sibling: string = flow.body.nodes[2].id;
      expect((await waitForTerminal(stack.apiUrl, rootId)).status).toBe('failed');
      const events = await waitFor(
        () => {
          const got = receivedAt('/flows', hook.secret);
          return got.some((e) => e.type === 'flow.completed') && got.some((e) => e.type === 'task.cancelled') ? got : undefined;
        },
        { what: 'the flow events' },
      );
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const all = receivedAt('/flows', hook.secret);
      expect(all.filter((e) => e.type === 'task.cancelled').map((e) => e.data.task.id)).toEqual([sibling]);
      const completed = all.filter((e) => e.type === 'flow.completed');
      expect(completed).toHaveLength(1);
      expect(completed[0].data).toMatchObject({ task: { id: rootId, status: 'failed' }, nodes: { total: 3, byStatus: { failed: 2, cancelled: 1 } } });
      expect(events.length).toBeGreaterThanOrEqual(2);
    } finally {
      await worker.stop();
    }
  });

  it('announces a cleaned file once (file.cleaned and pipeline.completed) when the worker dies right after the cleaning commits', async () => {
    const hook = await createEndpoint('/pipeline', ['file.cleaned', 'pipeline.*']);
    const victim = await startWorker({ CONVEYOR_FAILPOINTS: 'after-follow-up-commit', WEBHOOK_POLL_INTERVAL_MS: '60000' });
    const form = new FormData();
    form.append('rules', readFileSync(join(FIXTURES, 'rules.json')).toString());
    form.append('then', JSON.stringify([{ type: 'webhook.announce', payload: { message: 'crm import cleaned' } }]));
    form.append('file', new Blob([readFileSync(join(FIXTURES, 'dirty.csv'))], { type: 'text/csv' }), 'crm.csv');
    const response = await fetch(`${stack.apiUrl}/v1/cleaning-jobs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(response.status).toBe(202);
    const cleanId: string = ((await response.json()) as { task: { id: string } }).task.id;
    await waitFor(() => victim.child.exitCode !== null || victim.child.signalCode !== null, { timeoutMs: 30_000, what: 'the worker to die at the failpoint' });
    expect(victim.child.signalCode).toBe('SIGKILL');
    // The cleaning's completion committed with its file.cleaned event; nothing was sent yet.
    expect((await call('GET', `/v1/tasks/${cleanId}`)).body.status).toBe('completed');
    expect((await call('GET', `/v1/webhooks/endpoints/${hook.id}/deliveries?taskId=${cleanId}`)).body.deliveries).toEqual([
      expect.objectContaining({ eventType: 'file.cleaned', status: 'pending' }),
    ]);

    // Another worker takes the cleaning over and runs it again (same event id: none added), then the step.
    await startWorker();
    const announce = await waitFor(
      async () => {
        const [step] = (await call('GET', `/v1/tasks?rootId=${cleanId}`)).body.tasks as Array<{ id: string; type: string; status: string }>;
        return step?.status === 'completed' ? step : undefined;
      },
      { timeoutMs: LOCK_MS + 3 * STALL_CHECK_MS + 30_000, what: 'the announce step to complete' },
    );
    expect(announce.type).toBe('webhook.announce');
    await waitFor(() => receivedAt('/pipeline', hook.secret).length >= 2, { what: 'both events' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const events = receivedAt('/pipeline', hook.secret);
    expect(events.map((e) => e.type).sort()).toEqual(['file.cleaned', 'pipeline.completed']);
    const cleaned = events.find((e) => e.type === 'file.cleaned')!;
    const announced = events.find((e) => e.type === 'pipeline.completed')!;
    expect((await call('GET', `/v1/tasks/${cleanId}`)).body.attempts).toBe(2);
    // The announcement carries what the cleaning handed on: the cleaned file of the event.
    expect(cleaned.data).toMatchObject({ file: { kind: 'output', taskId: cleanId }, taskId: cleanId, summary: { rowsOut: expect.any(Number) } });
    expect(announced.data).toMatchObject({ message: 'crm import cleaned', rootId: cleanId, taskId: announce.id, input: { fileId: cleaned.data.file.id } });
  });
  it('runs the shipped pipeline: clean, export the cleaned rows, announce them; each event once', async () => {
    const hook = await createEndpoint('/shipped', ['file.cleaned', 'export.completed', 'pipeline.completed']);
    if (!workers.some((worker) => worker.child.exitCode === null && worker.child.signalCode === null)) await startWorker();
    const form = new FormData();
    form.append('rules', readFileSync(join(FIXTURES, 'rules.json')).toString());
    form.append(
      'then',
      JSON.stringify([
        { type: 'export.create', payload: { source: 'file', format: 'jsonl' } },
        { type: 'webhook.announce', payload: { message: 'crm import ready' } },
      ]),
    );
    form.append('file', new Blob([readFileSync(join(FIXTURES, 'dirty.csv'))], { type: 'text/csv' }), 'crm.csv');
    const response = await fetch(`${stack.apiUrl}/v1/cleaning-jobs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(response.status).toBe(202);
    const cleanId: string = ((await response.json()) as { task: { id: string } }).task.id;

    await waitFor(() => receivedAt('/shipped', hook.secret).length >= 3, { timeoutMs: 60_000, what: 'the three events' });
    await new Promise((resolve) => setTimeout(resolve, 1000)); // nothing more may follow
    const events = receivedAt('/shipped', hook.secret);
    expect(events.map((e) => e.type).sort()).toEqual(['export.completed', 'file.cleaned', 'pipeline.completed']);
    const chain = (await call('GET', `/v1/tasks?rootId=${cleanId}`)).body.tasks as Array<{ id: string; type: string; status: string }>;
    const exported = chain.find((task) => task.type === 'export.create')!;
    const announce = chain.find((task) => task.type === 'webhook.announce')!;
    expect([exported.status, announce.status]).toEqual(['completed', 'completed']);
    const byType = Object.fromEntries(events.map((e) => [e.type, e]));
    expect(byType['export.completed'].data).toMatchObject({ export: { id: exported.id, status: 'completed', source: 'file', format: 'jsonl', rows: 3 } });
    // The announcement is handed the export: its id and its file, downloadable by the receiver.
    expect(byType['pipeline.completed'].data).toMatchObject({
      message: 'crm import ready',
      rootId: cleanId,
      taskId: announce.id,
      input: { exportId: exported.id, rows: 3 },
    });
    const view = (await call('GET', `/v1/exports/${exported.id}`)).body;
    expect((await fetch(view.downloadUrl)).status).toBe(200);
  });
});
