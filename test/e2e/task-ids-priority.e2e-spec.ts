import { DIALECTS, waitFor } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack, type TaskView } from './support/stack';

type View = TaskView & { clientId: string | null };

describe.each(DIALECTS)('client-chosen task ids and priority changes on %s', (dialect) => {
  let stack: Stack;
  const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => http(stack.apiUrl, method, path, body, headers);
  const task = async (id: string) => (await call('GET', `/v1/tasks/${id}`)).body as View;

  beforeAll(async () => {
    stack = await startStack({ dialect, env: { WORKER_CONCURRENCY: '1' } });
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  describe('client-chosen ids', () => {
    it('stores the id with the task; the task is read and cancelled by it; the same body again is the same task', async () => {
      const body = { id: 'order-42.a:1_b', type: 'system.noop', payload: {}, tags: ['x'] };
      const created = await call('POST', '/v1/tasks', body);
      expect(created.status).toBe(202);
      expect(created.body.clientId).toBe('order-42.a:1_b');
      expect(created.body.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await task('order-42.a:1_b')).toMatchObject({ id: created.body.id, clientId: 'order-42.a:1_b' });

      const again = await call('POST', '/v1/tasks', { ...body });
      expect(again.status).toBe(200);
      expect(again.body.id).toBe(created.body.id);

      const other = await call('POST', '/v1/tasks', { ...body, tags: ['y'] });
      expect(other.status).toBe(409);
      expect(other.body.error).toMatchObject({ code: 'TASK_ID_REUSED', details: [{ field: 'id' }] });

      const scheduled = await call('POST', '/v1/tasks', { id: 'later-1', type: 'system.noop', payload: {}, delayMs: 60_000 });
      const cancelled = await call('POST', '/v1/tasks/later-1/cancel');
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({ id: scheduled.body.id, status: 'cancelled' });
    });

    it('keeps ids per tenant: another tenant may use the same id and cannot see the first one', async () => {
      const key = (await call('POST', '/v1/admin/keys', { tenant: 'other', scopes: ['tasks:read', 'tasks:write'] })).body.key;
      const auth = { authorization: `Bearer ${key}` };
      expect((await call('GET', '/v1/tasks/order-42.a:1_b', undefined, auth)).status).toBe(404);
      const theirs = await call('POST', '/v1/tasks', { id: 'order-42.a:1_b', type: 'system.noop', payload: {} }, auth);
      expect(theirs.status).toBe(202);
      expect(theirs.body.id).not.toBe((await task('order-42.a:1_b')).id);
    });

    it('creates one task for concurrent identical requests with the same id', async () => {
      const body = { id: 'race-1', type: 'system.noop', payload: {} };
      const answers = await Promise.all(Array.from({ length: 6 }, () => call('POST', '/v1/tasks', body)));
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
      const listed = (await call('GET', '/v1/tasks?limit=200')).body.tasks as View[];
      expect(listed.filter((t) => t.clientId === 'race-1')).toHaveLength(1);
    });

    it('refuses ids that are too long, hold forbidden characters or repeat within a batch', async () => {
      for (const id of ['x'.repeat(129), 'a b', 'a/b', '-lead', 'é', '']) {
        const response = await call('POST', '/v1/tasks', { id, type: 'system.noop', payload: {} });
        expect([id, response.status, response.body.error.code]).toEqual([id, 400, 'VALIDATION_FAILED']);
        expect(response.body.error.details[0].field).toBe('id');
      }
      expect((await call('POST', '/v1/tasks', { id: 'x'.repeat(128), type: 'system.noop', payload: {} })).status).toBe(202);
      const batch = await call('POST', '/v1/tasks/batch', {
        tasks: [
          { id: 'twice', type: 'system.noop', payload: {} },
          { id: 'twice', type: 'system.noop', payload: {} },
        ],
      });
      expect(batch.status).toBe(400);
      expect(batch.body.error.details[0].field).toBe('tasks[1].id');
      // Nothing of the refused requests was stored.
      expect((await call('GET', '/v1/tasks/twice')).status).toBe(404);
    });
  });

  describe('priority of a waiting task', () => {
    it('moves a waiting task ahead of the others', async () => {
      expect((await call('POST', '/v1/queues/system/pause')).status).toBe(200);
      try {
        const ids = (
          await call('POST', '/v1/tasks/batch', { tasks: [1, 2, 3].map(() => ({ type: 'system.sleep', payload: { ms: 100 }, priority: 5 })) })
        ).body.tasks.map((t: View) => t.id) as string[];
        const changed = await call('PATCH', `/v1/tasks/${ids[2]}`, { priority: 1 });
        expect(changed.status).toBe(200);
        expect(changed.body).toMatchObject({ id: ids[2], priority: 1, status: 'queued' });
        expect((await task(ids[2])).priority).toBe(1);
        await call('POST', '/v1/queues/system/resume');
        const done = await Promise.all(ids.map((id) => waitForTerminal(stack.apiUrl, id, 60_000)));
        const order = [...done].sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!)).map((t) => t.id);
        expect(order).toEqual([ids[2], ids[0], ids[1]]);
      } finally {
        await call('POST', '/v1/queues/system/resume');
      }
    }, 90_000);

    it('changes a scheduled task too, by its client id', async () => {
      await call('POST', '/v1/tasks', { id: 'prio-later', type: 'system.noop', payload: {}, delayMs: 60_000 });
      const changed = await call('PATCH', '/v1/tasks/prio-later', { priority: 2 });
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({ clientId: 'prio-later', priority: 2, status: 'scheduled' });
      await call('POST', '/v1/tasks/prio-later/cancel');
    });

    it('refuses running and finished tasks with 409 TASK_NOT_WAITING, bad priorities with 400, unknown tasks with 404', async () => {
      const running = (await call('POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 3000 } })).body as View;
      await waitFor(async () => (await task(running.id)).status === 'active', { timeoutMs: 30_000, what: 'the task to start' });
      const busy = await call('PATCH', `/v1/tasks/${running.id}`, { priority: 1 });
      expect([busy.status, busy.body.error.code]).toEqual([409, 'TASK_NOT_WAITING']);
      await waitForTerminal(stack.apiUrl, running.id, 60_000);
      const finished = await call('PATCH', `/v1/tasks/${running.id}`, { priority: 1 });
      expect([finished.status, finished.body.error.code]).toEqual([409, 'TASK_NOT_WAITING']);
      expect((await task(running.id)).priority).not.toBe(1);

      for (const body of [{ priority: 0 }, { priority: 11 }, { priority: 'high' }, {}, { priority: 1, status: 'queued' }]) {
        const response = await call('PATCH', `/v1/tasks/${running.id}`, body);
        expect([body, response.status, response.body.error.code]).toEqual([body, 400, 'VALIDATION_FAILED']);
      }
      expect((await call('PATCH', '/v1/tasks/01936f7c-0000-7000-8000-00000000abcd', { priority: 1 })).body.error.code).toBe('TASK_NOT_FOUND');
      expect((await call('PATCH', '/v1/tasks/no-such-task', { priority: 1 })).body.error.code).toBe('TASK_NOT_FOUND');
    }, 90_000);
  });
});
