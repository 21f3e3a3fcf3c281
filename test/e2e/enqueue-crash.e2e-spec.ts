import { APP_ENTRY, freePort, startProcess, waitFor, waitUntilReady } from '@conveyor/testing';
import { http, startStack, type Stack } from './support/stack';

const REQUESTS = 30;

/**
 * Concurrent enqueues share their BullMQ add (JobRelay). An API process killed (kill -9) just
 * before sending a shared add leaves several requests with their ledger rows committed, no job
 * and no answer. Nothing accepted may be lost and nothing may run twice: the clients' retries
 * with the same Idempotency-Key return the stored tasks, the reconciler queues their jobs, and
 * every task runs once.
 */
describe('API killed with a shared add pending', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ env: { RECONCILE_INTERVAL_MS: '1000', RECONCILE_MIN_AGE_MS: '10000' } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('loses no stored task and runs each once', async () => {
    const port = await freePort();
    const victim = startProcess(APP_ENTRY.api, { ...stack.env, PORT: String(port), CONVEYOR_FAILPOINTS: 'before-shared-add' });
    await waitUntilReady(victim, `http://127.0.0.1:${port}/health/ready`);
    const body = { type: 'system.noop', payload: {}, tags: ['shared-add-crash'] };
    const keys = Array.from({ length: REQUESTS }, (_, i) => `shared-add-crash-${i}`);
    const first = await Promise.all(
      keys.map((key) =>
        http(`http://127.0.0.1:${port}`, 'POST', '/v1/tasks', body, { 'idempotency-key': key }).then(
          (response) => response.status,
          () => 'no answer' as const,
        ),
      ),
    );
    await waitFor(() => victim.child.signalCode !== null || victim.child.exitCode !== null, { what: 'the API to die at the failpoint' });
    expect(victim.child.signalCode).toBe('SIGKILL');
    expect(first).toContain('no answer');
    expect(first.every((status) => status === 202 || status === 'no answer')).toBe(true);

    // Each client retries on a healthy API: the task stored before the crash (200), or a new one.
    const retried = await Promise.all(keys.map((key) => http(stack.apiUrl, 'POST', '/v1/tasks', body, { 'idempotency-key': key })));
    const storedUnanswered = retried.filter((response, i) => first[i] === 'no answer' && response.status === 200);
    // The crash hit a shared add: at least two requests were stored and never answered.
    expect(storedUnanswered.length).toBeGreaterThanOrEqual(2);
    expect(retried.every((response) => response.status === 200 || response.status === 202)).toBe(true);

    // Their jobs were never added; the reconciler queues them, and every task runs once.
    const ids = retried.map((response) => response.body.id as string);
    const done = await waitFor(
      async () => {
        const tasks = await Promise.all(ids.map(async (id) => (await http(stack.apiUrl, 'GET', `/v1/tasks/${id}`)).body));
        return tasks.every((task) => task.status === 'completed') ? tasks : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'every task to complete' },
    );
    expect(done.map((task) => task.attempts)).toEqual(ids.map(() => 1));
    const listed = (await http(stack.apiUrl, 'GET', '/v1/tasks?tag=shared-add-crash&limit=100')).body.tasks as Array<{ id: string }>;
    expect(listed.map((task) => task.id).sort()).toEqual([...new Set(ids)].sort());
    expect(listed).toHaveLength(REQUESTS);
  });
});
