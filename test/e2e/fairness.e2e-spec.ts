import { Client } from 'pg';
import { uniqueName, waitFor, type AppProcess } from '@conveyor/testing';
import { http, peakConcurrency, startStack, type Stack } from './support/stack';

/**
 * Scaled from the 100,000 + 100: tenant A floods with A_TASKS (batch API, 1000 a call),
 * then tenant B enqueues B_TASKS. One worker, CONCURRENCY slots, each tenant capped at CAP.
 */
const A_TASKS = 4000;
const B_TASKS = 100;
const CONCURRENCY = 4;
const CAP = 3;
const TASK_MS = 10;

interface Run {
  tenant: string;
  status: string;
  attempts: number;
  started: number;
  finished: number;
}

const peakOverlap = (runs: Run[]): number => peakConcurrency(runs.map((run) => [run.started, run.finished]));

async function ledger(stack: Stack): Promise<Run[]> {
  const client = new Client({ connectionString: stack.database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ tenant_id: string; status: string; attempts: number; started_at: Date | null; finished_at: Date | null }>(
      `SELECT tenant_id, status, attempts, started_at, finished_at FROM tasks WHERE type = 'system.sleep'`,
    );
    return rows.map((row) => ({
      tenant: row.tenant_id,
      status: row.status,
      attempts: row.attempts,
      started: row.started_at?.getTime() ?? NaN,
      finished: row.finished_at?.getTime() ?? NaN,
    }));
  } finally {
    await client.end();
  }
}

/** Most runs that overlapped at any instant (a run's slot is held from before its start until after its end). */
describe('fairness between tenants', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({
      env: {
        WORKER_CONCURRENCY: String(CONCURRENCY),
        TENANT_CONCURRENCY_DEFAULT: String(CAP),
        FAIRNESS_DEFER_MS: '100',
        WORKER_LOCK_DURATION_MS: '2000',
        WORKER_STALLED_INTERVAL_MS: '1000',
      },
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function keyFor(tenant: string): Promise<Record<string, string>> {
    const { body } = await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant, scopes: ['tasks:read', 'tasks:write'] });
    return { authorization: `Bearer ${body.key}` };
  }

  it("B's tasks finish while A's flood waits: A starts about as many tasks as B meanwhile, uses the spare slots, and loses nothing", async () => {
    const [a, b] = [await keyFor('flood-a'), await keyFor('quiet-b')];
    const sleep = { type: 'system.sleep', payload: { ms: TASK_MS } };
    for (let sent = 0; sent < A_TASKS; sent += 1000) {
      const { status } = await http(stack.apiUrl, 'POST', '/v1/tasks/batch', { tasks: Array.from({ length: 1000 }, () => sleep) }, a);
      expect(status).toBe(202);
    }
    const bEnqueuedAt = Date.now();
    expect((await http(stack.apiUrl, 'POST', '/v1/tasks/batch', { tasks: Array.from({ length: B_TASKS }, () => sleep) }, b)).status).toBe(202);

    const bDone = await waitFor(
      async () => {
        const runs = await ledger(stack);
        const bRuns = runs.filter((run) => run.tenant === 'quiet-b');
        return bRuns.every((run) => run.status === 'completed') ? runs : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 250, what: "B's tasks to finish" },
    );
    const bRuns = bDone.filter((run) => run.tenant === 'quiet-b');
    const bLastEnd = Math.max(...bRuns.map((run) => run.finished));
    const aRuns = bDone.filter((run) => run.tenant === 'flood-a');
    const aDuringB = aRuns.filter((run) => run.started >= bEnqueuedAt && run.started <= bLastEnd).length;
    const aWaitingAfterB = aRuns.filter((run) => run.status === 'queued').length;
    // Seen in the test output: how long B took on this machine.
    console.log(
      `fairness e2e: B's ${B_TASKS} tasks done ${bLastEnd - bEnqueuedAt} ms after enqueue; A started ${aDuringB} meanwhile; A still queued: ${aWaitingAfterB}`,
    );
    // Without fairness all of A's backlog (still over a thousand here) would run first. With it,
    // A and B alternate in the order, so A starts about B_TASKS tasks meanwhile (twice that,
    // plus the slots, is the bound), and some: the spare capacity is A's.
    expect(aWaitingAfterB).toBeGreaterThan(1000);
    expect(aDuringB).toBeGreaterThan(0);
    expect(aDuringB).toBeLessThanOrEqual(2 * B_TASKS + CONCURRENCY);

    const all = await waitFor(
      async () => {
        const runs = await ledger(stack);
        return runs.length === A_TASKS + B_TASKS && runs.every((run) => run.status === 'completed') ? runs : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 500, what: "A's tasks to finish" },
    );
    // Each ran once, and deferrals for the cap were not attempts.
    expect(all.filter((run) => run.attempts !== 1)).toEqual([]);
    // Alone, A borrowed the slot over its cap (spare capacity is used); B never needed to.
    expect(peakOverlap(all.filter((run) => run.tenant === 'flood-a' && run.finished < bEnqueuedAt))).toBe(CONCURRENCY);
    expect(peakOverlap(all.filter((run) => run.tenant === 'quiet-b'))).toBeLessThanOrEqual(CAP);
  });

  it('documents the caps route with its response schema', async () => {
    const { body: document } = await http(stack.apiUrl, 'GET', '/docs/json', undefined, { authorization: '' });
    const route = document.paths['/v1/admin/tenants/{tenant}/concurrency'];
    for (const method of ['get', 'put']) {
      expect(route[method].responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/TenantConcurrencyView' });
    }
    expect(document.components.schemas.TenantConcurrencyView.properties.queues.items).toEqual({ $ref: '#/components/schemas/TenantQueueConcurrencyView' });
    expect(document.components.schemas.TenantQueueConcurrencyView.required).toEqual(expect.arrayContaining(['queue', 'limit', 'source', 'running']));
  });
});

/** Strict caps (TENANT_CONCURRENCY_BORROW=off): the cap is a reserve, held even when the tenant is alone. */
describe('strict tenant caps', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({
      worker: false,
      env: { TENANT_CONCURRENCY_DEFAULT: String(CAP), TENANT_CONCURRENCY_BORROW: 'off', WORKER_LOCK_DURATION_MS: '2000', WORKER_STALLED_INTERVAL_MS: '1000' },
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('changes a cap at runtime, and a worker killed with -9 while holding the slot gives it back: nothing lost, the cap held', async () => {
    const bad = await http(stack.apiUrl, 'PUT', '/v1/admin/tenants/default/concurrency', { limit: -1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    expect((await http(stack.apiUrl, 'PUT', '/v1/admin/tenants/Not%20A%20Tenant/concurrency', { limit: 1 })).body.error.code).toBe('VALIDATION_FAILED');
    expect((await http(stack.apiUrl, 'PUT', '/v1/admin/tenants/default/concurrency', {})).status).toBe(400);
    const set = await http(stack.apiUrl, 'PUT', '/v1/admin/tenants/default/concurrency', { limit: 1 });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ tenant: 'default', fairness: true, defaultLimit: CAP });
    expect(set.body.queues).toContainEqual({ queue: 'system', limit: 1, source: 'tenant', running: 0 });

    const workerIds = [uniqueName('worker-a'), uniqueName('worker-b')];
    const workers: AppProcess[] = [];
    for (const id of workerIds) workers.push(await stack.startWorker({ WORKER_ID: id }));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { body } = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 3000 }, maxAttempts: 1 });
      ids.push(body.id);
    }
    const running = await waitFor(
      async () => {
        for (const id of ids) {
          const { body } = await http(stack.apiUrl, 'GET', `/v1/tasks/${id}`);
          if (body.status === 'active' && body.progress) return body;
        }
        return undefined;
      },
      { what: 'a task to run' },
    );
    const slotsHeld = await http(stack.apiUrl, 'GET', '/v1/admin/tenants/default/concurrency');
    expect(slotsHeld.body.queues).toContainEqual({ queue: 'system', limit: 1, source: 'tenant', running: 1 });
    const victim = workerIds.indexOf(running.workerId as string);
    expect(victim).toBeGreaterThanOrEqual(0);
    expect(await workers[victim].stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

    const done = await waitFor(
      async () => {
        const tasks = await Promise.all(ids.map(async (id) => (await http(stack.apiUrl, 'GET', `/v1/tasks/${id}`)).body));
        return tasks.every((task) => task.status === 'completed') ? tasks : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250, what: 'every task to complete after the kill' },
    );
    // The killed run shows as a second start of its task; the others started once (deferrals are not starts).
    expect(done.map((task) => task.attempts).sort()).toEqual([1, 1, 2]);
    const runs = done.map((task) => ({
      tenant: 'default',
      status: task.status as string,
      attempts: task.attempts as number,
      started: Date.parse(task.startedAt as string),
      finished: Date.parse(task.finishedAt as string),
    }));
    expect(peakOverlap(runs)).toBe(1);
    const after = await http(stack.apiUrl, 'GET', '/v1/admin/tenants/default/concurrency');
    expect(after.body.queues).toContainEqual({ queue: 'system', limit: 1, source: 'tenant', running: 0 });

    const reset = await http(stack.apiUrl, 'PUT', '/v1/admin/tenants/default/concurrency', { limit: null });
    expect(reset.body.queues).toContainEqual({ queue: 'system', limit: CAP, source: 'default', running: 0 });
  });
});
