import { Queue } from 'bullmq';
import { APP_ENTRY, DIALECTS, freePort, startProcess, TEST_REDIS_URL, waitFor, waitUntilReady } from '@conveyor/testing';
import { http, startStack, TEST_ADMIN_KEY, waitForTerminal, type Stack, type TaskView } from './support/stack';

/** Reads an SSE stream to its end and returns its events. */
async function readEvents(url: string): Promise<Array<{ event: string; data: any }>> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.includes('event:'))
    .map((block) => ({
      event: /event: (.*)/.exec(block)![1],
      data: JSON.parse(/data: (.*)/.exec(block)![1]),
    }));
}

describe.each(DIALECTS)('task control on %s', (dialect) => {
  let stack: Stack;
  const post = (path: string, body?: unknown, headers?: Record<string, string>) => http(stack.apiUrl, 'POST', path, body ?? {}, headers);
  const get = (path: string) => http(stack.apiUrl, 'GET', path);
  const status = async (id: string) => (await get(`/v1/tasks/${id}`)).body as TaskView;

  beforeAll(async () => {
    stack = await startStack({ dialect });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  describe('cancel', () => {
    it('cancels a scheduled task at once: removed from the queue, never run', async () => {
      const task = (await post('/v1/tasks', { type: 'system.noop', payload: {}, delayMs: 800 })).body;
      const cancelled = await post(`/v1/tasks/${task.id}/cancel`);
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({ status: 'cancelled', cancellation: 'cancelled', error: { code: 'CANCELLED' } });
      const queue = new Queue('system', { connection: { url: TEST_REDIS_URL }, prefix: stack.prefix });
      try {
        expect(await queue.getJob(task.id)).toBeUndefined();
      } finally {
        await queue.close();
      }
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect(await status(task.id)).toMatchObject({ status: 'cancelled', startedAt: null, attempts: 0 });
    });

    it('aborts a running task on whichever worker runs it; it ends cancelled, not failed, and is not retried', async () => {
      const task = (await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 10_000 }, maxAttempts: 3 })).body;
      await waitFor(async () => (await status(task.id)).status === 'active', { what: 'active' });
      const requested = Date.now();
      const response = await post(`/v1/tasks/${task.id}/cancel`);
      expect(response.status).toBe(202);
      expect(response.body.cancellation).toBe('cancelling');
      const done = await waitForTerminal(stack.apiUrl, task.id);
      expect(Date.now() - requested).toBeLessThan(3000);
      expect(done).toMatchObject({ status: 'cancelled', attempts: 1, error: { code: 'CANCELLED' } });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await status(task.id)).toMatchObject({ status: 'cancelled', attempts: 1 });
    });

    it('refuses to cancel a finished task (409) and answers 404 for an unknown one', async () => {
      const task = (await post('/v1/tasks', { type: 'system.noop', payload: {} })).body;
      await waitForTerminal(stack.apiUrl, task.id);
      const again = await post(`/v1/tasks/${task.id}/cancel`);
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('TASK_TERMINAL');
      expect((await post('/v1/tasks/01936f7c-0000-7000-8000-00000000abcd/cancel')).body.error.code).toBe('TASK_NOT_FOUND');
    });
  });

  describe('retry', () => {
    it('re-runs a failed task under the same id, its attempts counting on', async () => {
      const task = (await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 1, failTimes: 1 }, maxAttempts: 1 })).body;
      expect(await waitForTerminal(stack.apiUrl, task.id)).toMatchObject({ status: 'failed', attempts: 1 });
      const retried = await post(`/v1/tasks/${task.id}/retry`);
      expect(retried.status).toBe(202);
      expect(retried.body).toMatchObject({ id: task.id, status: 'queued', error: null, maxAttempts: 2 });
      const done = await waitForTerminal(stack.apiUrl, task.id);
      expect(done).toMatchObject({ status: 'completed', attempts: 2, result: { attempt: 2 } });
    });

    it('re-runs a cancelled task and refuses to retry a completed one', async () => {
      const task = (await post('/v1/tasks', { type: 'system.noop', payload: {}, delayMs: 5000 })).body;
      await post(`/v1/tasks/${task.id}/cancel`);
      await post(`/v1/tasks/${task.id}/retry`);
      expect((await waitForTerminal(stack.apiUrl, task.id)).status).toBe('completed');
      const refused = await post(`/v1/tasks/${task.id}/retry`);
      expect(refused.status).toBe(409);
      expect(refused.body.error.code).toBe('TASK_NOT_RETRYABLE');
    });

    it('retries the dead-letter inbox in bulk', async () => {
      const failing = await Promise.all(
        [1, 2, 3].map(async () => (await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 1, failTimes: 1 }, maxAttempts: 1, tags: ['dlq'] })).body),
      );
      await Promise.all(failing.map((t) => waitForTerminal(stack.apiUrl, t.id)));
      const inbox = (await get('/v1/tasks?status=failed&tag=dlq')).body.tasks.map((t: TaskView) => t.id);
      expect(inbox.sort()).toEqual(failing.map((t) => t.id).sort());

      const bulk = await post('/v1/tasks/retry', { status: 'failed', type: 'system.sleep' });
      expect(bulk.status).toBe(202);
      expect(bulk.body.retried).toEqual(expect.arrayContaining(failing.map((t) => t.id)));
      const done = await Promise.all(failing.map((t) => waitForTerminal(stack.apiUrl, t.id)));
      expect(done.map((t) => t.status)).toEqual(['completed', 'completed', 'completed']);
      expect((await get('/v1/tasks?status=failed&tag=dlq')).body.tasks).toHaveLength(0);
    });
  });

  describe('idempotency', () => {
    it('returns the same task for the same key and body, and 422 for the same key with another body', async () => {
      const key = `key-${Date.now()}`;
      const body = { type: 'system.noop', payload: {}, tags: ['idem'] };
      const first = await post('/v1/tasks', body, { 'idempotency-key': key });
      expect(first.status).toBe(202);
      const second = await post('/v1/tasks', { payload: {}, tags: ['idem'], type: 'system.noop' }, { 'idempotency-key': key });
      expect(second.status).toBe(200);
      expect(second.body.id).toBe(first.body.id);
      expect(second.body.idempotencyKey).toBe(key);

      const reused = await post('/v1/tasks', { ...body, priority: 1 }, { 'idempotency-key': key });
      expect(reused.status).toBe(422);
      expect(reused.body.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
    });

    it('creates exactly one task and one job for concurrent identical requests', async () => {
      const key = `race-${Date.now()}`;
      const tag = `race-${dialect}`;
      const responses = await Promise.all(
        Array.from({ length: 12 }, () => post('/v1/tasks', { type: 'system.sleep', payload: { ms: 1 }, tags: [tag] }, { 'idempotency-key': key })),
      );
      expect(responses.every((r) => r.status === 200 || r.status === 202)).toBe(true);
      expect(responses.filter((r) => r.status === 202)).toHaveLength(1);
      expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
      await waitForTerminal(stack.apiUrl, responses[0].body.id);
      expect((await get(`/v1/tasks?tag=${tag}`)).body.tasks).toHaveLength(1);
      const metrics = (await http(stack.workerUrl, 'GET', '/metrics')).body as string;
      const runs = /conveyor_task_wait_seconds_count\{type="system.sleep",queue="system"\} (\d+)/.exec(metrics);
      expect(runs).not.toBeNull();
    });

    it('keeps keys per tenant-wide uniqueness within a batch', async () => {
      const dup = await post('/v1/tasks/batch', {
        tasks: [
          { type: 'system.noop', payload: {}, idempotencyKey: 'same' },
          { type: 'system.noop', payload: {}, idempotencyKey: 'same' },
        ],
      });
      expect(dup.status).toBe(400);
      expect(dup.body.error.details[0].field).toBe('tasks[1].idempotencyKey');
    });
  });

  it('expires a task not started before its deadline; it never runs', async () => {
    const task = (await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 1 }, delayMs: 1200, expiresInMs: 300 })).body;
    expect(task.expiresAt).not.toBeNull();
    const done = await waitForTerminal(stack.apiUrl, task.id);
    expect(done).toMatchObject({ status: 'expired', startedAt: null, result: null, error: { code: 'EXPIRED' } });
  });

  it('streams status and progress as Server-Sent Events until the task is terminal', async () => {
    const task = (await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 1200 } })).body;
    const events = await readEvents(`${stack.apiUrl}/v1/tasks/${task.id}/events`);
    const statuses = events.filter((e) => e.event === 'status').map((e) => e.data.status);
    expect(statuses[statuses.length - 1]).toBe('completed');
    expect(statuses).toContain('active');
    const progress = events.filter((e) => e.event === 'progress').map((e) => e.data.progress.percent);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);

    // Another API instance streams the same task: events come from the shared ledger.
    const port = await freePort();
    const second = startProcess(APP_ENTRY.api, { ...stack.env, PORT: String(port) });
    try {
      await waitUntilReady(second, `http://127.0.0.1:${port}/health/ready`);
      const other = (await post('/v1/tasks', { type: 'system.sleep', payload: { ms: 600 } })).body;
      const elsewhere = await readEvents(`http://127.0.0.1:${port}/v1/tasks/${other.id}/events`);
      expect(elsewhere[elsewhere.length - 1]).toEqual({ event: 'status', data: expect.objectContaining({ id: other.id, status: 'completed' }) });
    } finally {
      await second.stop();
    }

    const finished = await readEvents(`${stack.apiUrl}/v1/tasks/${task.id}/events`);
    expect(finished).toEqual([{ event: 'status', data: expect.objectContaining({ status: 'completed' }) }]);
    expect((await get('/v1/tasks/01936f7c-0000-7000-8000-00000000abcd/events')).status).toBe(404);
  });

  it('pushes changes to open streams: idle streams read nothing, a cancel arrives at once, Last-Event-ID resumes', async () => {
    const streamReads = async () => Number(/^conveyor_event_stream_reads_total (\d+)/m.exec((await get('/metrics')).body)?.[1] ?? 0);
    const tasks = await Promise.all(
      Array.from({ length: 10 }, async () => (await post('/v1/tasks', { type: 'system.noop', payload: {}, delayMs: 600_000 })).body),
    );
    const streams = tasks.map((task) => {
      const controller = new AbortController();
      const response = fetch(`${stack.apiUrl}/v1/tasks/${task.id}/events`, {
        headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` },
        signal: controller.signal,
      });
      return { task, controller, response };
    });
    try {
      const first = await (await streams[0].response).body!.getReader().read();
      const firstId = /id: (\d+)/.exec(new TextDecoder().decode(first.value))![1];
      // Every stream opened and read its task once: the count stops moving.
      let previous = -1;
      const settledReads = await waitFor(
        async () => {
          const now = await streamReads();
          const stable = now === previous;
          previous = now;
          if (!stable) await new Promise((resolve) => setTimeout(resolve, 300));
          return stable ? now : undefined;
        },
        { what: 'the streams to settle' },
      );
      // Nothing changes for 3 s: no reads at all (polling every 250 ms read 120 rows here).
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect((await streamReads()) - settledReads).toBe(0);

      // Unchanged since its first event: a reconnect with that id is sent nothing new.
      const resumed = new AbortController();
      const quiet = await fetch(`${stack.apiUrl}/v1/tasks/${streams[0].task.id}/events`, {
        headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'last-event-id': firstId },
        signal: resumed.signal,
      });
      const nothing = await Promise.race([quiet.body!.getReader().read(), new Promise((resolve) => setTimeout(() => resolve('silent'), 500))]);
      resumed.abort();
      expect(nothing).toBe('silent');

      // A change is pushed: the cancel (made by this API) reaches the open stream, which ends.
      expect((await post(`/v1/tasks/${streams[1].task.id}/cancel`)).status).toBe(200);
      const text = await (await streams[1].response).text();
      expect(text).toMatch(/event: status\ndata: .*"status":"cancelled"/);
      // A reconnect with the stale id gets the new state.
      const after = await fetch(`${stack.apiUrl}/v1/tasks/${streams[1].task.id}/events`, {
        headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'last-event-id': firstId },
      });
      expect(await after.text()).toMatch(/"status":"cancelled"/);
    } finally {
      for (const stream of streams) stream.controller.abort();
    }
  });
});
