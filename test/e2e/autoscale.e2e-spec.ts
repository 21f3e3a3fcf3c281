import { waitFor } from '@conveyor/testing';
import { http, maxOverlap, notCompletedOnce, startStack, waitForTerminal, type Stack, type TaskView } from './support/stack';

interface ConcurrencyStatus {
  queue: string;
  concurrency: number;
  min: number;
  max: number;
  mode: 'fixed' | 'autoscaled' | 'operator';
  running: number;
}

/**
 * WORKER_CONCURRENCY=system=1..8 on a built worker, real Redis and PostgreSQL: the concurrency
 * climbs under a backlog and falls back when idle, seen in /health/ready, in the
 * conveyor_worker_concurrency gauge and in the ledger (how many tasks ran at once); an operator's
 * PATCH pins it. The load limits are set high: the machine is shared, and backing off under load
 * is covered by the decision's unit test.
 */
describe('autoscaled concurrency (WORKER_CONCURRENCY=min..max)', () => {
  let stack: Stack;
  const call = (method: string, path: string, body?: unknown) => http(stack.apiUrl, method, path, body);
  const system = async (): Promise<ConcurrencyStatus> => {
    const { body } = await http(stack.workerUrl, 'GET', '/health/ready');
    return (body.worker.concurrency as ConcurrencyStatus[]).find((q) => q.queue === 'system')!;
  };
  const gauge = async (): Promise<number> => {
    const response = await fetch(`${stack.workerUrl}/metrics`);
    const match = /^conveyor_worker_concurrency\{queue="system"\} (\d+)$/m.exec(await response.text());
    return Number(match?.[1]);
  };
  const enqueue = async (count: number, ms: number) => {
    const { status, body } = await call('POST', '/v1/tasks/batch', { tasks: Array.from({ length: count }, () => ({ type: 'system.sleep', payload: { ms } })) });
    expect(status).toBe(202);
    return (body.tasks as TaskView[]).map((t) => t.id);
  };
  const finish = (ids: string[]) => Promise.all(ids.map((id) => waitForTerminal(stack.apiUrl, id, 120_000)));

  beforeAll(async () => {
    stack = await startStack({
      env: {
        WORKER_CONCURRENCY: 'system=1..8',
        WORKER_AUTOSCALE_INTERVAL_MS: '300',
        WORKER_AUTOSCALE_STEP: '2',
        WORKER_AUTOSCALE_IDLE_MS: '1500',
        WORKER_AUTOSCALE_MAX_EVENT_LOOP_DELAY_MS: '5000',
        WORKER_AUTOSCALE_MAX_CPU: '10000',
      },
    });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('starts at min, rises to max under a backlog, and falls back to min when idle', async () => {
    expect(await system()).toEqual({ queue: 'system', concurrency: 1, min: 1, max: 8, mode: 'autoscaled', running: 0 });
    expect(await gauge()).toBe(1);

    const ids = await enqueue(80, 400);
    await waitFor(async () => (await system()).concurrency === 8, { timeoutMs: 60_000, what: 'concurrency to reach 8' });
    expect(await gauge()).toBe(8);
    const tasks = await finish(ids);
    expect(notCompletedOnce(tasks)).toEqual([]);
    // The ledger agrees: more than the starting 1 ran at once, never more than max.
    const overlap = maxOverlap(tasks);
    expect(overlap).toBeGreaterThanOrEqual(5);
    expect(overlap).toBeLessThanOrEqual(8);

    await waitFor(async () => (await system()).concurrency === 1, { timeoutMs: 30_000, what: 'concurrency to fall back to 1' });
    expect(await gauge()).toBe(1);
  }, 180_000);

  it("an operator's PATCH pins the concurrency (autoscaling paused), null hands it back to the autoscaler", async () => {
    const pinned = await call('PATCH', '/v1/queues/system', { concurrency: 3 });
    expect(pinned.status).toBe(200);
    await waitFor(
      async () => {
        const status = await system();
        return status.mode === 'operator' && status.concurrency === 3;
      },
      { timeoutMs: 20_000, what: 'the override to apply' },
    );

    const tasks = await finish(await enqueue(24, 300));
    expect(tasks.every((t) => t.status === 'completed')).toBe(true);
    expect(maxOverlap(tasks)).toBeLessThanOrEqual(3);
    expect(await system()).toMatchObject({ concurrency: 3, mode: 'operator' });

    await call('PATCH', '/v1/queues/system', { concurrency: null });
    await waitFor(async () => (await system()).mode === 'autoscaled', { timeoutMs: 20_000, what: 'autoscaling to resume' });
    // From the operator's 3, idle brings it back to min.
    await waitFor(async () => (await system()).concurrency === 1, { timeoutMs: 30_000, what: 'concurrency to fall back to 1' });
  }, 180_000);
});
