import { Queue } from 'bullmq';
import { startPrivateRedis, waitFor, type PrivateRedis } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack } from './support/stack';

/**
 * Redis goes away and comes back (empty: no persistence). The stack runs on a private
 * redis-server, never the machine's shared one. While Redis is down an enqueue is refused
 * quickly with 503 QUEUE_UNAVAILABLE and leaves nothing behind; afterwards both apps
 * reconnect by themselves.
 */
describe('Redis outage at enqueue', () => {
  let redis: PrivateRedis;
  let stack: Stack;
  const post = (body: unknown, headers?: Record<string, string>) => http(stack.apiUrl, 'POST', '/v1/tasks', body, headers);

  beforeAll(async () => {
    redis = await startPrivateRedis();
    stack = await startStack({ env: { REDIS_URL: redis.url } });
  });

  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it('answers 503 QUEUE_UNAVAILABLE within 2 s without a ledger row, then recovers when Redis returns', async () => {
    const before = await post({ type: 'system.sleep', payload: { ms: 20 } });
    expect(before.status).toBe(202);
    expect((await waitForTerminal(stack.apiUrl, before.body.id)).status).toBe('completed');

    await redis.stop();
    const downSince = Date.now();

    const started = Date.now();
    const refused = await post({ type: 'system.sleep', payload: { ms: 20 }, tags: ['refused'] }, { 'x-request-id': 'refused-at-enqueue' });
    expect(Date.now() - started).toBeLessThan(2500);
    expect({ status: refused.status, code: refused.body.error?.code }).toEqual({ status: 503, code: 'QUEUE_UNAVAILABLE' });
    // Lines logged while the request was served name it, and its own line is an error.
    const linesOf = () => stack.api!.logs().filter((line) => (line.req as { id?: string } | undefined)?.id === 'refused-at-enqueue');
    await waitFor(() => linesOf().some((line) => line.msg === 'request errored'), { what: 'the refused request line' });
    expect(linesOf().map((line) => line.msg)).toEqual(expect.arrayContaining(['enqueue refused: queue unavailable', 'request errored']));
    expect(linesOf().find((line) => line.msg === 'request errored')).toMatchObject({
      level: 50,
      res: { statusCode: 503 },
      err: { message: 'failed with status code 503' },
    });
    const refusedBatch = await http(stack.apiUrl, 'POST', '/v1/tasks/batch', { tasks: [{ type: 'system.noop', payload: {}, tags: ['refused'] }] });
    expect(refusedBatch.status).toBe(503);
    expect(refusedBatch.body.error.code).toBe('QUEUE_UNAVAILABLE');

    // The ledger only holds what was accepted.
    expect((await http(stack.apiUrl, 'GET', '/v1/tasks?tag=refused')).body.tasks).toEqual([]);
    expect((await http(stack.apiUrl, 'GET', '/v1/tasks')).body.tasks.map((t: { id: string }) => t.id)).toEqual([before.body.id]);

    const apiReady = await http(stack.apiUrl, 'GET', '/health/ready');
    expect(apiReady.status).toBe(503);
    expect(apiReady.body.details.redis.status).toBe('down');
    expect((await http(stack.workerUrl, 'GET', '/health/ready')).status).toBe(503);
    // Several failed reconnects (their delay grows to 2 s) must not make either app give up or crash.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, downSince + 5000 - Date.now())));
    expect(stack.api!.child.exitCode).toBeNull();
    expect(stack.worker!.child.exitCode).toBeNull();

    await redis.start();

    // Both apps reconnect on their own: retry until the API accepts again, then the worker runs it.
    const after = await waitFor(
      async () => {
        const response = await post({ type: 'system.sleep', payload: { ms: 20 }, tags: ['after'] });
        return response.status === 202 ? response.body : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 250, what: 'the API to accept tasks again' },
    );
    expect((await waitForTerminal(stack.apiUrl, after.id)).status).toBe('completed');
    expect((await http(stack.apiUrl, 'GET', '/health/ready')).status).toBe(200);
    await waitFor(async () => (await http(stack.workerUrl, 'GET', '/health/ready')).status === 200, { what: 'the worker to be ready again' });
    expect((await http(stack.apiUrl, 'GET', '/v1/tasks?tag=refused')).body.tasks).toEqual([]);
  });

  it('answers every Redis-bound route within a bound while Redis is frozen, and keeps a cancel it made', async () => {
    const later = await post({ type: 'system.sleep', payload: { ms: 5 }, delayMs: 600_000 });
    expect(later.status).toBe(202);
    redis.pause();
    try {
      // The producer connection gives up after 5 s (PRODUCER_COMMAND_TIMEOUT_MS); it used to wait forever.
      const timed = async (method: string, path: string) => {
        const started = Date.now();
        const response = await http(stack.apiUrl, method, path);
        const { error, cancellation } = response.body ?? {};
        return { status: response.status, code: error?.code, cancellation, seconds: Math.round((Date.now() - started) / 1000) };
      };
      const [queues, cancel] = await Promise.all([timed('GET', '/v1/queues'), timed('POST', `/v1/tasks/${later.body.id}/cancel`)]);
      expect(queues).toEqual({ status: 503, code: 'QUEUE_UNAVAILABLE', cancellation: undefined, seconds: expect.any(Number) });
      expect(queues.seconds).toBeLessThanOrEqual(7);
      // The ledger took the cancel before Redis was asked to drop the job: it stands (202).
      expect(cancel).toEqual({ status: 202, code: 'CANCELLED', cancellation: 'cancelling', seconds: expect.any(Number) });
      expect(cancel.seconds).toBeLessThanOrEqual(7);
    } finally {
      redis.resume();
    }
    expect((await http(stack.apiUrl, 'GET', `/v1/tasks/${later.body.id}`)).body.status).toBe('cancelled');
    expect((await http(stack.apiUrl, 'GET', '/v1/queues')).status).toBe(200);
  });

  it('accepts a task whose add Redis answers late (frozen Redis), runs it once, and keeps its idempotency key', async () => {
    // Redis frozen past the API's 2 s wait: the add is sent but unanswered. It used to be
    // answered 503 with the row removed, yet the add ran when Redis woke up: the task ran
    // without a row, and the client's retry with the same key ran it a second time.
    const body = { type: 'system.sleep', payload: { ms: 7 }, tags: ['late-add'] };
    const key = { 'idempotency-key': `late-${Date.now()}` };
    redis.pause();
    let thawed = false;
    const thaw = setTimeout(() => {
      thawed = true;
      redis.resume();
    }, 3000);
    try {
      const accepted = await post(body, key);
      expect({ status: accepted.status, taskStatus: accepted.body.status, thawed }).toEqual({ status: 202, taskStatus: 'queued', thawed: false });
      const done = await waitForTerminal(stack.apiUrl, accepted.body.id, 20_000);
      expect(done).toMatchObject({ status: 'completed', attempts: 1 });

      // The client's retry, as after any answer it did not trust: the same task, nothing new.
      const again = await post(body, key);
      expect({ status: again.status, id: again.body.id }).toEqual({ status: 200, id: accepted.body.id });
      expect((await http(stack.apiUrl, 'GET', '/v1/tasks?tag=late-add')).body.tasks.map((t: { id: string }) => t.id)).toEqual([accepted.body.id]);
      const queue = new Queue('system', { connection: { url: redis.url }, prefix: stack.prefix });
      try {
        const job = (await queue.getJob(accepted.body.id))!;
        expect({ attemptsStarted: job.attemptsStarted, completed: await job.isCompleted() }).toEqual({ attemptsStarted: 1, completed: true });
        expect(await queue.getJobCounts('wait', 'active', 'delayed', 'failed')).toEqual({ wait: 0, active: 0, delayed: 0, failed: 0 });
      } finally {
        await queue.close();
      }
    } finally {
      clearTimeout(thaw);
      redis.resume();
    }
  });
});

describe('worker shutdown with Redis gone', () => {
  it('ends within SHUTDOWN_GRACE_MS and its margin instead of waiting for Redis forever', async () => {
    const redis = await startPrivateRedis();
    const stack = await startStack({ env: { REDIS_URL: redis.url, SHUTDOWN_GRACE_MS: '2000' } });
    try {
      await redis.stop();
      // SIGTERM, and SIGKILL only after 60 s: the worker must end by itself (it hung until killed before).
      await stack.worker!.stop('SIGTERM', 60_000);
      expect({ killed: stack.worker!.child.signalCode === 'SIGKILL', exitCode: stack.worker!.child.exitCode }).toEqual({ killed: false, exitCode: 1 });
    } finally {
      await stack.stop();
      await redis.stop().catch(() => undefined);
    }
  }, 120_000);
});
