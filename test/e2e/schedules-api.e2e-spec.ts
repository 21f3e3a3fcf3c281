import { waitFor } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack } from './support/stack';

/**
 * The schedules API over HTTP against the built apps: CRUD and pause/resume/trigger, with the
 * worker's runner firing the ticks. Tenancy, scopes and each refusal are tested in process
 * (apps/api/test).
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
});
