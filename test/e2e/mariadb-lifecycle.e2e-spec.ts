import { http, startStack, waitForTerminal, type Stack } from './support/stack';

/** The same path with the ledger on MariaDB (MySQL dialect). */
describe('task lifecycle on MariaDB', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ dialect: 'mysql' });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('completes, retries and fails tasks with the ledger on MariaDB', async () => {
    const post = (body: unknown) => http(stack.apiUrl, 'POST', '/v1/tasks', body);
    const ok = (await post({ type: 'system.sleep', payload: { ms: 200 }, tags: ['maria'] })).body;
    const retried = (await post({ type: 'system.sleep', payload: { ms: 5, failTimes: 1 } })).body;
    const failed = (await post({ type: 'system.sleep', payload: { ms: 5, failTimes: 9 }, maxAttempts: 2 })).body;

    const [okDone, retriedDone, failedDone] = await Promise.all([ok, retried, failed].map((t) => waitForTerminal(stack.apiUrl, t.id)));
    expect(okDone).toMatchObject({ status: 'completed', attempts: 1, progress: { percent: 100 }, tags: ['maria'] });
    expect(Date.parse(okDone.finishedAt!) - Date.parse(okDone.startedAt!)).toBeGreaterThanOrEqual(190);
    expect(retriedDone).toMatchObject({ status: 'completed', attempts: 2, result: { attempt: 2 } });
    expect(failedDone).toMatchObject({ status: 'failed', attempts: 2, error: { code: 'SLEEP_PLANNED_FAILURE' } });

    const listed = (await http(stack.apiUrl, 'GET', '/v1/tasks?tag=maria')).body.tasks;
    expect(listed.map((t: { id: string }) => t.id)).toEqual([ok.id]);
  });

  it('accepts a batch of 1000 tasks and drains it', async () => {
    const tasks = Array.from({ length: 1000 }, () => ({ type: 'system.noop', payload: {} }));
    const response = await http(stack.apiUrl, 'POST', '/v1/tasks/batch', { tasks });
    expect(response.status).toBe(202);
    expect(response.body.tasks).toHaveLength(1000);
    const last = response.body.tasks[999];
    expect((await waitForTerminal(stack.apiUrl, last.id, 30_000)).status).toBe('completed');
  });
});
