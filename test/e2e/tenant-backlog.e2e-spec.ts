import { http, startStack, type Stack } from './support/stack';

/**
 * MAX_UNFINISHED_TASKS_PER_TENANT: one tenant's backlog cannot grow without bound (each
 * queued task holds memory in Redis for everyone). No worker runs here, so tasks stay queued.
 */
describe('per-tenant cap on unfinished tasks', () => {
  let stack: Stack;
  const post = (path: string, body: unknown) => http(stack.apiUrl, 'POST', path, body);

  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { MAX_UNFINISHED_TASKS_PER_TENANT: '3' } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('refuses work past the cap with 429 TENANT_QUEUE_FULL, stores none of it, and admits again once tasks finish', async () => {
    const accepted = [];
    for (let i = 0; i < 3; i += 1) accepted.push(await post('/v1/tasks', { type: 'system.noop', payload: {}, tags: ['backlog'] }));
    expect(accepted.map((r) => r.status)).toEqual([202, 202, 202]);

    const single = await post('/v1/tasks', { type: 'system.noop', payload: {}, tags: ['backlog'] });
    const batch = await post('/v1/tasks/batch', { tasks: [{ type: 'system.noop', payload: {}, tags: ['backlog'] }] });
    for (const refused of [single, batch]) {
      expect({ status: refused.status, code: refused.body.error?.code }).toEqual({ status: 429, code: 'TENANT_QUEUE_FULL' });
    }
    expect((await http(stack.apiUrl, 'GET', '/v1/tasks?tag=backlog')).body.tasks).toHaveLength(3);

    expect((await post(`/v1/tasks/${accepted[0].body.id}/cancel`, {})).status).toBe(200);
    // The backlog is counted again at most once a second.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect((await post('/v1/tasks', { type: 'system.noop', payload: {}, tags: ['backlog'] })).status).toBe(202);
    expect((await post('/v1/tasks', { type: 'system.noop', payload: {}, tags: ['backlog'] })).status).toBe(429);
  });
});
