import { waitFor } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack } from './support/stack';

/**
 * The schedules API over HTTP against the built apps: CRUD, pause/resume/trigger, tenancy and
 * each refusal. The worker's runner fires the ticks.
 */
describe('schedules API', () => {
  let stack: Stack;
  const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => http(stack.apiUrl, method, path, body, headers);
  const noop = { type: 'system.noop', payload: {} };

  beforeAll(async () => {
    stack = await startStack({ env: { SCHEDULER_INTERVAL_MS: '100' } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('creates, reads, lists, changes and deletes a schedule; its ticks run as ordinary tasks', async () => {
    const created = await call('POST', '/v1/schedules', { everyMs: 1000, task: { ...noop, tags: ['nightly'] }, overlap: 'skip' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.any(String),
      cron: null,
      everyMs: 1000,
      timezone: 'UTC',
      task: { type: 'system.noop', payload: {}, tags: ['nightly'] },
      overlap: 'skip',
      missed: 'skip',
      enabled: true,
      paused: false,
      nextRunAt: expect.any(String),
    });
    const id = created.body.id as string;

    const withRuns = await waitFor(async () => {
      const detail = (await call('GET', `/v1/schedules/${id}`)).body;
      return detail.runs.some((run: { status: string }) => run.status === 'completed') ? detail : undefined;
    });
    const run = withRuns.runs.find((r: { status: string }) => r.status === 'completed');
    expect(run).toMatchObject({ taskId: expect.any(String), tick: expect.any(String), status: 'completed' });
    const task = (await call('GET', `/v1/tasks/${run.taskId}`)).body;
    expect(task).toMatchObject({ type: 'system.noop', scheduleId: id, scheduledTick: run.tick, tags: ['nightly'] });

    const runs = (await call('GET', `/v1/tasks?scheduleId=${id}`)).body.tasks as Array<{ id: string; scheduleId: string }>;
    expect(runs.map((t) => t.id)).toContain(run.taskId);
    expect(runs.every((t) => t.scheduleId === id)).toBe(true);

    const listed = await call('GET', '/v1/schedules?limit=10');
    expect(listed.body.schedules.map((s: { id: string }) => s.id)).toContain(id);

    const changed = await call('PATCH', `/v1/schedules/${id}`, { cron: '0 3 * * *', timezone: 'Europe/Berlin' });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ cron: '0 3 * * *', everyMs: null, timezone: 'Europe/Berlin' });
    expect(new Date(changed.body.nextRunAt).getUTCMinutes()).toBe(0);

    expect((await call('DELETE', `/v1/schedules/${id}`)).status).toBe(204);
    expect((await call('GET', `/v1/schedules/${id}`)).status).toBe(404);
  });

  it('pause stops the ticks, resume restarts them, trigger runs one extra task now', async () => {
    const { id } = (await call('POST', '/v1/schedules', { cron: '0 0 1 1 *', task: noop })).body;
    const paused = await call('POST', `/v1/schedules/${id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ paused: true, nextRunAt: null });
    const resumed = await call('POST', `/v1/schedules/${id}/resume`);
    expect(resumed.body).toMatchObject({ paused: false, nextRunAt: expect.any(String) });

    const triggered = await call('POST', `/v1/schedules/${id}/trigger`);
    expect(triggered.status).toBe(202);
    expect(triggered.body).toMatchObject({ type: 'system.noop', scheduleId: id, scheduledTick: expect.any(String) });
    expect(await waitForTerminal(stack.apiUrl, triggered.body.id)).toMatchObject({ status: 'completed' });
    const detail = (await call('GET', `/v1/schedules/${id}`)).body;
    expect(detail.runs).toEqual([expect.objectContaining({ taskId: triggered.body.id, status: 'completed' })]);
  });

  it("answers 404 for another tenant's schedule on every route, and needs the scopes", async () => {
    const { id } = (await call('POST', '/v1/schedules', { everyMs: 60_000, task: noop })).body;
    const other = (await call('POST', '/v1/admin/keys', { tenant: 'globex', scopes: ['tasks:read', 'tasks:write'] })).body.key as string;
    const reader = (await call('POST', '/v1/admin/keys', { tenant: 'default', scopes: ['tasks:read'] })).body.key as string;
    const as = (key: string) => ({ authorization: `Bearer ${key}` });
    for (const [method, path, body] of [
      ['GET', `/v1/schedules/${id}`],
      ['PATCH', `/v1/schedules/${id}`, { everyMs: 5000 }],
      ['DELETE', `/v1/schedules/${id}`],
      ['POST', `/v1/schedules/${id}/pause`, {}],
      ['POST', `/v1/schedules/${id}/resume`, {}],
      ['POST', `/v1/schedules/${id}/trigger`, {}],
    ] as Array<[string, string, unknown?]>) {
      const response = await call(method, path, body, as(other));
      expect({ method, path, status: response.status, code: response.body?.error?.code }).toEqual({ method, path, status: 404, code: 'SCHEDULE_NOT_FOUND' });
    }
    expect((await call('GET', '/v1/schedules', undefined, as(other))).body.schedules).toEqual([]);
    expect((await call('POST', '/v1/schedules', { everyMs: 60_000, task: noop }, as(reader))).status).toBe(403);
    expect((await call('GET', `/v1/schedules/${id}`, undefined, as(reader))).status).toBe(200);
    expect((await call('GET', '/v1/schedules/not-a-uuid')).status).toBe(404);
  });

  it('refuses bad input with a clear code and stores nothing', async () => {
    const before = (await call('GET', '/v1/schedules?limit=200')).body.schedules.length;
    const cases: Array<[unknown, number, string, string?]> = [
      [{ cron: '61 * * * *', task: noop }, 400, 'INVALID_CRON', 'cron'],
      [{ cron: '* * * *', task: noop }, 400, 'INVALID_CRON', 'cron'],
      [{ cron: '0 3 * * *', timezone: 'Mars/Olympus', task: noop }, 400, 'INVALID_TIMEZONE', 'timezone'],
      [{ cron: '0 3 * * *', everyMs: 60_000, task: noop }, 400, 'VALIDATION_FAILED', 'cron'],
      [{ task: noop }, 400, 'VALIDATION_FAILED', 'cron'],
      [{ everyMs: 999, task: noop }, 400, 'SCHEDULE_TOO_FREQUENT', 'everyMs'],
      [{ everyMs: 60_000, task: { type: 'no.such-type', payload: {} } }, 400, 'UNKNOWN_TASK_TYPE', 'task.type'],
      [{ everyMs: 60_000, task: { type: 'system.sleep', payload: { ms: 'long' } } }, 400, 'VALIDATION_FAILED', 'task.payload.ms'],
      [{ everyMs: 60_000, task: noop, startAt: '2030-01-02T00:00:00Z', endAt: '2030-01-01T00:00:00Z' }, 400, 'VALIDATION_FAILED', 'endAt'],
      [{ everyMs: 60_000, task: noop, overlap: 'sometimes' }, 400, 'VALIDATION_FAILED', 'overlap'],
      [{ everyMs: 60_000 }, 400, 'VALIDATION_FAILED', 'task'],
    ];
    for (const [body, status, code, field] of cases) {
      const response = await call('POST', '/v1/schedules', body);
      expect({ body, status: response.status, code: response.body.error?.code }).toEqual({ body, status, code });
      if (field) expect(response.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    }
    const { id } = (await call('POST', '/v1/schedules', { everyMs: 60_000, task: noop })).body;
    const patched = await call('PATCH', `/v1/schedules/${id}`, { cron: 'nope' });
    expect(patched.body.error.code).toBe('INVALID_CRON');
    expect((await call('GET', `/v1/schedules/${id}`)).body).toMatchObject({ everyMs: 60_000, cron: null });
    expect((await call('GET', '/v1/schedules?limit=200')).body.schedules.length).toBe(before + 1);
  });
});
