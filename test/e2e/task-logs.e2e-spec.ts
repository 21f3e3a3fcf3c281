import { DIALECTS, waitFor } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack } from './support/stack';

/**
 * Task logs through the built API and worker: a handler's `ctx.log` lines reach the worker's
 * output with the task's bindings and `GET /v1/tasks/:id/logs`, capped per attempt, paged by
 * cursor, filtered by attempt, and visible only to the task's tenant.
 */
describe.each(DIALECTS)('task logs on %s', (dialect) => {
  let stack: Stack;
  let acme: string;
  let globex: string;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    stack = await startStack({ dialect, env: { TASK_LOG_MAX_LINES: '10' } });
    const create = async (tenant: string) =>
      (await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant, scopes: ['tasks:read', 'tasks:write'] })).body.key as string;
    acme = await create('acme');
    globex = await create('globex');
  });

  afterAll(async () => {
    await stack?.stop();
  });

  /** Every page of a task's log, following nextCursor. */
  async function allPages(id: string, query = '') {
    const pages: any[] = [];
    let cursor: string | null = null;
    do {
      const response = await http(stack.apiUrl, 'GET', `/v1/tasks/${id}/logs?limit=4${query}${cursor ? `&cursor=${cursor}` : ''}`, undefined, as(acme));
      expect(response.status).toBe(200);
      pages.push(response.body);
      cursor = response.body.nextCursor;
    } while (cursor && pages.length < 20);
    return pages;
  }

  it('pages a task log oldest first, capped per attempt with a line saying what was dropped', async () => {
    const task = (
      await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.log', payload: { message: 'row read', repeat: 15, input: { file: 'a.csv' } } }, as(acme))
    ).body;
    expect(await waitForTerminal(stack.apiUrl, task.id, 30_000, as(acme))).toMatchObject({ status: 'completed' });
    // The lines are written in batches shortly after they are logged.
    await waitFor(async () => (await http(stack.apiUrl, 'GET', `/v1/tasks/${task.id}/logs?limit=200`, undefined, as(acme))).body.lines.length === 11, {
      timeoutMs: 20_000,
      what: 'the stored log',
    });
    const pages = await allPages(task.id);
    expect(pages.map((page) => page.lines.length)).toEqual([4, 4, 3]);
    expect(pages[2].nextCursor).toBeNull();
    const lines = pages.flatMap((page) => page.lines);
    expect(lines.slice(0, 10).map((line: any) => line.fields.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(lines[0]).toEqual({
      id: expect.any(String),
      attempt: 1,
      level: 'info',
      message: 'row read',
      fields: { input: { file: 'a.csv' }, line: 1 },
      loggedAt: expect.any(String),
    });
    expect(lines[10]).toMatchObject({
      level: 'warn',
      message: expect.stringMatching(/^5 log line\(s\).*TASK_LOG_MAX_LINES \(10\)/),
      fields: { droppedLines: 5 },
    });
    // Every line, the dropped ones too, is in the worker's output with the task's bindings.
    const output = stack.worker!.logs().filter((line) => line.taskId === task.id && line.msg === 'row read');
    expect(output).toHaveLength(15);
    expect(output[0]).toMatchObject({ taskType: 'system.log', attempt: 1, tenantId: 'acme', queue: 'system', input: { file: 'a.csv' }, line: 1 });
  });

  it('filters by attempt, answers 404 to another tenant and 400 to a bad cursor or attempt', async () => {
    const task = (await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 1, failTimes: 2 }, maxAttempts: 3 }, as(acme))).body;
    expect(await waitForTerminal(stack.apiUrl, task.id, 30_000, as(acme))).toMatchObject({ status: 'completed', attempts: 3 });
    const read = (query: string, key = acme) => http(stack.apiUrl, 'GET', `/v1/tasks/${task.id}/logs${query}`, undefined, as(key));
    await waitFor(async () => (await read('')).body.lines.length === 2, { timeoutMs: 20_000, what: 'two attempts logged' });
    expect((await read('?attempt=2')).body).toEqual({
      lines: [expect.objectContaining({ attempt: 2, level: 'warn', message: 'failing attempt 2 on purpose', fields: { failTimes: 2 } })],
      nextCursor: null,
    });
    expect((await read('?attempt=3')).body).toEqual({ lines: [], nextCursor: null });

    const foreign = await read('', globex);
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('TASK_NOT_FOUND');
    expect((await read('?cursor=bm90LWFuLWlk')).body.error.code).toBe('INVALID_CURSOR');
    const badAttempt = await read('?attempt=0');
    expect(badAttempt.status).toBe(400);
    expect(badAttempt.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('documents the route with its response schema', async () => {
    const document = (await http(stack.apiUrl, 'GET', '/docs/json', undefined, { authorization: '' })).body;
    const operation = document.paths['/v1/tasks/{id}/logs'].get;
    expect(operation.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/TaskLogPageView' });
    expect(operation.parameters.map((parameter: any) => parameter.name)).toEqual(expect.arrayContaining(['id', 'attempt', 'limit', 'cursor']));
    expect(document.components.schemas.TaskLogLineView.properties).toHaveProperty('loggedAt');
  });
});
