import { Queue } from 'bullmq';
import { APP_ENTRY, freePort, startProcess, TEST_REDIS_URL, waitFor } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack } from './support/stack';

describe('worker process and app boundaries', () => {
  let stack: Stack;

  beforeAll(async () => {
    // API only: workers are started per test.
    stack = await startStack({ worker: false });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('the API process never runs a processor: tasks wait until a worker starts', async () => {
    const { body } = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await http(stack.apiUrl, 'GET', `/v1/tasks/${body.id}`)).body.status).toBe('queued');
    const queue = new Queue('system', { connection: { url: TEST_REDIS_URL }, prefix: stack.prefix });
    try {
      expect(await queue.getWorkersCount()).toBe(0);
      expect(await queue.getJobCounts('waiting', 'prioritized')).toMatchObject({ prioritized: 1 });
    } finally {
      await queue.close();
    }

    const worker = await stack.startWorker();
    try {
      expect((await waitForTerminal(stack.apiUrl, body.id)).status).toBe('completed');
    } finally {
      await worker.stop();
    }
  });

  it('refuses to boot when WORKER_QUEUES names a queue no task type uses', async () => {
    const worker = startProcess(APP_ENTRY.worker, { ...stack.env, WORKER_QUEUES: 'system,nosuchqueue', WORKER_HEALTH_PORT: String(await freePort()) });
    const { code } = await worker.exited;
    expect(code).toBe(1);
    expect(worker.output()).toMatch(/WORKER_QUEUES names queues no task type uses: nosuchqueue/);
  });

  it('refuses to boot on invalid configuration, listing every bad key', async () => {
    for (const entry of [APP_ENTRY.worker, APP_ENTRY.api]) {
      const app = startProcess(entry, { ...stack.env, PORT: 'eighty', WORKER_HEALTH_PORT: '99999', REDIS_URL: 'http://nope' });
      const { code } = await app.exited;
      expect(code).toBe(1);
      const output = app.output();
      expect(output).toMatch(/Invalid configuration/);
      expect(output).toMatch(/PORT:/);
      expect(output).toMatch(/WORKER_HEALTH_PORT:/);
      expect(output).toMatch(/REDIS_URL:/);
    }
  });

  it('on SIGTERM stops taking tasks, finishes the running one, and exits', async () => {
    const port = await freePort();
    const worker = await stack.startWorker({ WORKER_HEALTH_PORT: String(port), SHUTDOWN_GRACE_MS: '10000' });
    const running = (await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 1500 } })).body;
    await waitFor(async () => (await http(stack.apiUrl, 'GET', `/v1/tasks/${running.id}`)).body.status === 'active', { what: 'task active' });

    const stopped = worker.stop('SIGTERM');
    await waitFor(() => worker.output().includes('stopping: no new tasks'), { what: 'shutdown log' });
    const later = (await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} })).body;
    const { code, signal } = await stopped;

    // Nest re-raises SIGTERM after a clean shutdown: 143 (or the signal itself) means graceful.
    expect(code === 143 || signal === 'SIGTERM' || code === 0).toBe(true);
    const finished = (await http(stack.apiUrl, 'GET', `/v1/tasks/${running.id}`)).body;
    expect(finished.status).toBe('completed');
    expect((await http(stack.apiUrl, 'GET', `/v1/tasks/${later.id}`)).body.status).toBe('queued');

    const next = await stack.startWorker();
    try {
      expect((await waitForTerminal(stack.apiUrl, later.id)).status).toBe('completed');
    } finally {
      await next.stop();
    }
  });

  it('past SHUTDOWN_GRACE_MS interrupts a running task and releases it without using an attempt', async () => {
    const worker = await stack.startWorker({ WORKER_HEALTH_PORT: String(await freePort()), SHUTDOWN_GRACE_MS: '500' });
    const long = (await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 3000 }, maxAttempts: 1 })).body;
    await waitFor(async () => (await http(stack.apiUrl, 'GET', `/v1/tasks/${long.id}`)).body.status === 'active', { what: 'task active' });
    const started = Date.now();
    await worker.stop('SIGTERM');
    expect(Date.now() - started).toBeLessThan(2500);
    expect(worker.output()).toMatch(/grace period over/);

    const released = (await http(stack.apiUrl, 'GET', `/v1/tasks/${long.id}`)).body;
    expect(released).toMatchObject({ status: 'queued', attempts: 1, error: { code: 'INTERRUPTED' } });

    // maxAttempts is 1: it can only complete if the interruption did not use up the retry
    // budget; the ledger still counts both starts.
    const next = await stack.startWorker();
    try {
      const done = await waitForTerminal(stack.apiUrl, long.id);
      expect(done).toMatchObject({ status: 'completed', attempts: 2, error: null });
    } finally {
      await next.stop();
    }
  });

  it('reports not ready while shutting down and serves metrics on its own port', async () => {
    const port = await freePort();
    const worker = await stack.startWorker({ WORKER_HEALTH_PORT: String(port), WORKER_QUEUES: 'system' });
    const ready = await http(`http://127.0.0.1:${port}`, 'GET', '/health/ready');
    expect(ready.body.worker.queues).toEqual(['system']);
    const metrics = await http(`http://127.0.0.1:${port}`, 'GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^process_resident_memory_bytes /m);
    expect(metrics.body).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect((await http(`http://127.0.0.1:${port}`, 'GET', '/nope')).status).toBe(404);
    await worker.stop();
  });

  it('gives its spare heap back once idle', async () => {
    const worker = await stack.startWorker({ WORKER_QUEUES: 'system', LOG_LEVEL: 'debug', IDLE_COMPACT_AFTER_MS: '300' });
    try {
      const compactions = () => worker.logs().filter((line) => line.msg === 'idle: heap compacted');
      await waitFor(() => compactions().length > 0, { timeoutMs: 30_000, what: 'an idle heap compaction' });
      const [first] = compactions() as Array<{ rssMbBefore: number; rssMbAfter: number }>;
      // Boot left the young generation large; the compaction returns it to the system.
      expect(first.rssMbAfter).toBeLessThan(first.rssMbBefore);
    } finally {
      await worker.stop();
    }
  });
});
