import { randomBytes } from 'node:crypto';
import { TestReceiver, waitFor } from '@conveyor/testing';
import { exportedSpans, SPAN_KIND, type ExportedSpan } from './support/otlp-spans';
import { http, localWebhookEnv, startStack, waitForTerminal, type Stack, type TaskView } from './support/stack';

/**
 * Tracing through the built API and worker, exporting OTLP/HTTP JSON to a receiver in the test:
 * one trace from the caller's `traceparent` through the API request, the enqueue, the task's
 * attempt in the worker and its follow-up's attempt, with database and Redis calls inside; the
 * trace id in the response header, the ledger and the log lines. And with no OTEL_* set, none of it.
 */
describe('tracing', () => {
  let collector: TestReceiver;
  let stack: Stack;

  beforeAll(async () => {
    collector = await new TestReceiver().start();
    stack = await startStack({
      env: {
        ...localWebhookEnv(),
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}`,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        SCHEDULER_INTERVAL_MS: '200',
      },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await collector?.stop();
  });

  const spansOf = (traceId: string) => exportedSpans(collector.received).filter((span) => span.traceId === traceId);
  const one = (spans: ExportedSpan[], what: string, match: (span: ExportedSpan) => boolean) => {
    const found = spans.filter(match);
    if (found.length !== 1) throw new Error(`expected one ${what}, found ${found.length}: ${JSON.stringify(spans.map((s) => [s.service, s.name, s.kind]))}`);
    return found[0];
  };

  it('follows a request through the enqueue, the attempt and its follow-up across both processes', async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const created = await http(
      stack.apiUrl,
      'POST',
      '/v1/tasks',
      { type: 'system.sleep', payload: { ms: 10, followUps: 1 } },
      { traceparent: `00-${traceId}-${callerSpan}-01` },
    );
    expect(created.status).toBe(202);
    // The caller's trace is honoured and the answer names the API's span in it.
    const answered = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(created.headers.get('traceparent') ?? '');
    expect(answered?.[1]).toBe(traceId);
    const serverSpanId = answered![2];
    expect(serverSpanId).not.toBe(callerSpan);
    expect(created.body.traceId).toBe(traceId);

    const parent = await waitForTerminal(stack.apiUrl, created.body.id, 60_000);
    expect(parent.status).toBe('completed');
    const [child] = await waitFor(
      async () => {
        const rows: TaskView[] = (await http(stack.apiUrl, 'GET', `/v1/tasks?parentId=${parent.id}`)).body.tasks;
        return rows.length === 1 && rows[0].status === 'completed' ? rows : undefined;
      },
      { timeoutMs: 60_000, what: 'the follow-up to complete' },
    );
    // The ledger keeps the trace of every task of the chain, shown by the API.
    expect((await http(stack.apiUrl, 'GET', `/v1/tasks/${parent.id}`)).body.traceId).toBe(traceId);
    expect((await http(stack.apiUrl, 'GET', `/v1/tasks/${child.id}`)).body.traceId).toBe(traceId);

    const spans = await waitFor(
      () => {
        const all = spansOf(traceId);
        return all.some((span) => span.name === 'process system.noop') ? all : undefined;
      },
      { timeoutMs: 30_000, what: 'the follow-up attempt span to be exported' },
    );
    const server = one(spans, 'API server span', (span) => span.kind === SPAN_KIND.server && span.service === 'conveyor-api');
    expect(server).toMatchObject({ name: 'POST /v1/tasks', spanId: serverSpanId });
    expect(server.attributes).toMatchObject({ 'http.route': '/v1/tasks', 'http.response.status_code': 202 });
    expect(server.parentSpanId).toBe(callerSpan);
    const enqueue = one(spans, 'enqueue span', (span) => span.name === 'enqueue');
    expect(enqueue).toMatchObject({ service: 'conveyor-api', kind: SPAN_KIND.producer, parentSpanId: server.spanId });
    const attempt = one(spans, 'parent attempt span', (span) => span.name === 'process system.sleep');
    expect(attempt).toMatchObject({ service: 'conveyor-worker', kind: SPAN_KIND.consumer, parentSpanId: enqueue.spanId });
    expect(attempt.attributes).toMatchObject({ 'conveyor.task.id': parent.id, 'conveyor.task.type': 'system.sleep', 'conveyor.task.attempt': 1 });
    const followUp = one(spans, 'follow-up attempt span', (span) => span.name === 'process system.noop');
    expect(followUp).toMatchObject({ service: 'conveyor-worker', kind: SPAN_KIND.consumer, parentSpanId: attempt.spanId });
    expect(followUp.attributes['conveyor.task.id']).toBe(child.id);

    // Database and Redis calls inside the enqueue (ledger insert, job add) and the attempts.
    const system = (span: ExportedSpan) => span.attributes['db.system.name'] ?? span.attributes['db.system'];
    const within = (parent: ExportedSpan) => spans.filter((span) => span.parentSpanId === parent.spanId).map(system);
    expect(within(enqueue)).toEqual(expect.arrayContaining(['postgresql', 'redis']));
    expect([...within(attempt), ...within(followUp)]).toEqual(expect.arrayContaining(['postgresql']));

    // The trace id is in the log lines of that work, in both processes.
    const apiLines = stack.api!.logs().filter((line) => line.traceId === traceId);
    expect(apiLines.length).toBeGreaterThan(0);
    const workerLines = await waitFor(
      () => {
        const lines = stack.worker!.logs().filter((line) => line.taskId === parent.id || line.taskId === child.id);
        return lines.filter((line) => line.msg === 'task completed').length === 2 ? lines : undefined;
      },
      { timeoutMs: 10_000, what: 'the worker to log both completions' },
    );
    expect(workerLines.map((line) => line.traceId)).toEqual(workerLines.map(() => traceId));
  });

  it('puts a flow in one trace: its leaves under the enqueue, the parent under the attempt that released it', async () => {
    const created = await http(stack.apiUrl, 'POST', '/v1/flows', {
      type: 'system.noop',
      payload: {},
      children: [{ type: 'system.sleep', payload: { ms: 1 } }],
    });
    expect(created.status).toBe(202);
    const root = created.body.id as string;
    const leaf = (created.body.nodes as Array<{ id: string; parentId: string | null }>).find((node) => node.parentId === root)!.id;
    expect(await waitForTerminal(stack.apiUrl, root, 60_000)).toMatchObject({ status: 'completed' });
    const traceId = (await http(stack.apiUrl, 'GET', `/v1/tasks/${root}`)).body.traceId as string;
    expect((await http(stack.apiUrl, 'GET', `/v1/tasks/${leaf}`)).body.traceId).toBe(traceId);
    const spans = await waitFor(
      () => {
        const all = spansOf(traceId);
        return all.some((span) => span.name === 'process system.noop') ? all : undefined;
      },
      { timeoutMs: 30_000, what: 'the flow parent attempt span to be exported' },
    );
    const enqueue = one(spans, 'flow enqueue span', (span) => span.name === 'enqueue flow');
    const leafAttempt = one(spans, 'leaf attempt', (span) => span.name === 'process system.sleep');
    expect(leafAttempt.parentSpanId).toBe(enqueue.spanId);
    const parentAttempt = one(spans, 'parent attempt', (span) => span.name === 'process system.noop');
    expect(parentAttempt.attributes['conveyor.task.id']).toBe(root);
    expect(parentAttempt.parentSpanId).toBe(leafAttempt.spanId);
  });

  it("puts a schedule's tick in the trace of its firing, with its attempt under it", async () => {
    const schedule = await http(stack.apiUrl, 'POST', '/v1/schedules', { everyMs: 1000, task: { type: 'system.noop', payload: {} } });
    expect(schedule.status).toBe(201);
    try {
      const [tick] = await waitFor(
        async () => {
          const rows: Array<TaskView & { traceId: string | null }> = (await http(stack.apiUrl, 'GET', `/v1/tasks?scheduleId=${schedule.body.id}`)).body.tasks;
          const done = rows.filter((row) => row.status === 'completed');
          return done.length > 0 ? done : undefined;
        },
        { timeoutMs: 60_000, what: 'a completed tick' },
      );
      expect(tick.traceId).toMatch(/^[0-9a-f]{32}$/);
      const spans = await waitFor(
        () => {
          const all = spansOf(tick.traceId!);
          return all.some((span) => span.name === 'process system.noop') ? all : undefined;
        },
        { timeoutMs: 30_000, what: 'the tick attempt span to be exported' },
      );
      const firing = one(spans, 'schedule firing span', (span) => span.name === 'enqueue schedule');
      expect(firing.attributes['conveyor.schedule.id']).toBe(schedule.body.id);
      // A late runner may fire two ticks at once: both in the firing's trace, under it.
      const attempts = spans.filter((span) => span.name === 'process system.noop');
      expect(attempts.map((span) => span.parentSpanId)).toEqual(attempts.map(() => firing.spanId));
      expect(attempts.map((span) => span.attributes['conveyor.task.id'])).toContain(tick.id);
    } finally {
      await http(stack.apiUrl, 'DELETE', `/v1/schedules/${schedule.body.id}`);
    }
  });

  it("keeps every attempt in the task's trace: automatic retries and a manual retry", async () => {
    const created = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 1, failTimes: 2 }, maxAttempts: 2 });
    const { id, traceId } = created.body as { id: string; traceId: string };
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(await waitForTerminal(stack.apiUrl, id, 60_000)).toMatchObject({ status: 'failed', attempts: 2 });
    // A retry by hand, in a request of its own (a trace of its own): the attempt stays in the task's.
    expect((await http(stack.apiUrl, 'POST', `/v1/tasks/${id}/retry`)).status).toBe(202);
    expect(await waitForTerminal(stack.apiUrl, id, 60_000)).toMatchObject({ status: 'completed', attempts: 3 });
    const attempts = await waitFor(
      () => {
        const found = spansOf(traceId).filter((span) => span.name === 'process system.sleep');
        return found.length === 3 ? found : undefined;
      },
      { timeoutMs: 30_000, what: 'three attempt spans in the task trace' },
    );
    const enqueue = one(spansOf(traceId), 'enqueue span', (span) => span.name === 'enqueue');
    const byAttempt = new Map(attempts.map((span) => [span.attributes['conveyor.task.attempt'], span]));
    expect(byAttempt.get(1)!.parentSpanId).toBe(enqueue.spanId);
    expect(byAttempt.get(2)!.parentSpanId).toBe(enqueue.spanId);
    // Re-made from the ledger row: the parent is derived from the task id (the enqueue span's id is not kept).
    expect(byAttempt.get(3)!.parentSpanId).toBe(id.replace(/-/g, '').slice(-16));
  });

  it('traces each webhook delivery attempt with its HTTP call, whose traceparent the receiver gets', async () => {
    const hooks = await new TestReceiver().start();
    try {
      const endpoint = await http(stack.apiUrl, 'POST', '/v1/webhooks/endpoints', { url: hooks.url(), events: ['task.completed'] });
      expect(endpoint.status).toBe(201);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(endpoint.body.activeFrom) - Date.now() + 50)));
      const created = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} });
      expect((await waitForTerminal(stack.apiUrl, created.body.id, 60_000)).status).toBe('completed');
      const delivered = await waitFor(() => hooks.received.find((request) => request.body.includes(created.body.id)), {
        timeoutMs: 60_000,
        what: 'the task.completed delivery',
      });
      const [, traceId, clientSpanId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(delivered.headers.traceparent)) ?? [];
      expect(traceId).toBeDefined();
      const spans = await waitFor(
        () => {
          const all = spansOf(traceId);
          return all.some((span) => span.name === 'deliver webhook') && all.some((span) => span.spanId === clientSpanId) ? all : undefined;
        },
        { timeoutMs: 30_000, what: 'the delivery spans to be exported' },
      );
      const delivery = one(spans, 'delivery span', (span) => span.name === 'deliver webhook');
      expect(delivery).toMatchObject({ service: 'conveyor-worker', kind: SPAN_KIND.consumer });
      expect(delivery.attributes['conveyor.webhook.endpoint_id']).toBe(endpoint.body.id);
      expect(one(spans, 'HTTP call', (span) => span.spanId === clientSpanId)).toMatchObject({ kind: SPAN_KIND.client, parentSpanId: delivery.spanId });
    } finally {
      await hooks.stop();
    }
  });

  it('starts a trace of its own for a request without traceparent', async () => {
    const created = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} });
    const traceId = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/.exec(created.headers.get('traceparent') ?? '')?.[1];
    expect(traceId).toBeDefined();
    expect(created.body.traceId).toBe(traceId);
    expect((await waitForTerminal(stack.apiUrl, created.body.id, 60_000)).status).toBe('completed');
    const spans = await waitFor(
      () => {
        const all = spansOf(traceId!);
        return all.some((span) => span.name === 'process system.noop') ? all : undefined;
      },
      { timeoutMs: 30_000, what: 'the attempt span to be exported' },
    );
    expect(one(spans, 'API server span', (span) => span.kind === SPAN_KIND.server).parentSpanId).toBe('');
  });

  it('does nothing with no OTEL_* set: no header, no trace id in the ledger or the logs', async () => {
    const plain = await startStack({ worker: false });
    try {
      const traceId = randomBytes(16).toString('hex');
      const created = await http(
        plain.apiUrl,
        'POST',
        '/v1/tasks',
        { type: 'system.noop', payload: {} },
        { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
      );
      expect(created.status).toBe(202);
      expect(created.headers.get('traceparent')).toBeNull();
      expect(created.body.traceId).toBeNull();
      expect(plain.api!.logs().filter((line) => 'traceId' in line)).toEqual([]);
      expect(spansOf(traceId)).toEqual([]);
    } finally {
      await plain.stop();
    }
  });
});
