import { Client } from 'pg';
import { waitFor } from '@conveyor/testing';
import { startRedisSentinel, type RedisSentinelDeployment } from './support/redis-topologies';
import { http, startStack, type Stack } from './support/stack';

const TAG = 'failover';

/**
 * Sentinel failover under load: one master, one replica, three sentinels, and the built API and
 * worker connected through REDIS_SENTINELS only. While enqueues stream in and the worker runs
 * them, the replica and the worker are frozen for a moment and the replication link is cut (the
 * master keeps accepting, the replica never gets those writes and nobody runs them), then the
 * master is killed with SIGKILL. The sentinels promote the replica, both
 * apps follow it, and every task that got a 202 completes: the jobs the promoted replica never
 * received are re-added by the ledger reconciler.
 */
describe('Redis Sentinel failover', () => {
  let redis: RedisSentinelDeployment;
  let stack: Stack;
  let db: Client;

  beforeAll(async () => {
    redis = await startRedisSentinel({ downAfterMs: 1000 });
    stack = await startStack({
      env: { ...redis.env, RECONCILE_INTERVAL_MS: '1000', RECONCILE_MIN_AGE_MS: '10000', WORKER_CONCURRENCY: '20' },
    });
    db = new Client({ connectionString: stack.database.url });
    await db.connect();
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await stack?.stop();
    await redis?.stop();
  });

  it('follows the failover and completes every accepted task, the lost jobs through the reconciler', async () => {
    const accepted: Array<{ id: string; at: number }> = [];
    const refused: number[] = [];
    let streaming = true;
    const producer = async () => {
      while (streaming) {
        const response = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 20 }, tags: [TAG] }).catch(() => undefined);
        if (response?.status === 202) accepted.push({ id: response.body.id as string, at: Date.now() });
        else {
          refused.push(response?.status ?? 0);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    };
    const producers = Array.from({ length: 4 }, producer);

    const completedCount = async () =>
      Number((await db.query("SELECT count(*) AS n FROM tasks WHERE status = 'completed' AND tags::text LIKE $1", [`%${TAG}%`])).rows[0].n);
    await waitFor(async () => accepted.length >= 50 && (await completedCount()) >= 20, { timeoutMs: 60_000, what: 'tasks flowing through the master' });

    // The replica misses what the master accepts while it is frozen, and the worker (frozen too)
    // runs none of it; then the master dies.
    const oldMaster = redis.master.port;
    const worker = stack.worker!.child;
    worker.kill('SIGSTOP');
    redis.replica.child.kill('SIGSTOP');
    // Bytes already sent would still reach the frozen replica from its socket buffer: cut the link.
    await redis.cutReplication();
    const frozenAt = Date.now();
    await waitFor(() => accepted.some((task) => task.at > frozenAt + 200) && accepted.filter((task) => task.at > frozenAt).length >= 10, {
      timeoutMs: 30_000,
      what: 'enqueues accepted while the replica is frozen',
    });
    const unreplicated = accepted.filter((task) => task.at > frozenAt).length;
    await redis.master.kill();
    const killedAt = Date.now();
    redis.replica.child.kill('SIGCONT');
    worker.kill('SIGCONT');

    await waitFor(async () => (await redis.currentMasterPort().catch(() => 0)) === redis.replica.port, { timeoutMs: 60_000, what: 'the replica promoted' });
    const promotedAt = Date.now();
    // The API takes enqueues again on the new master, and the worker runs them.
    await waitFor(() => accepted.filter((task) => task.at > promotedAt).length >= 30, { timeoutMs: 60_000, what: 'enqueues accepted after the failover' });
    streaming = false;
    await Promise.all(producers);
    expect(redis.replica.port).not.toBe(oldMaster);

    const ids = accepted.map((task) => task.id);
    const unfinished = async () =>
      (await db.query("SELECT id, status FROM tasks WHERE id = ANY($1) AND status <> 'completed'", [ids])).rows as Array<{ id: string; status: string }>;
    await waitFor(async () => (await unfinished()).length === 0, { timeoutMs: 90_000, intervalMs: 500, what: 'every accepted task completed' }).catch(
      async (error: Error) => {
        const left = await unfinished();
        const reconciles = (await db.query("SELECT status, result, created_at FROM tasks WHERE type = 'system.reconcile' ORDER BY created_at DESC LIMIT 5"))
          .rows;
        throw new Error(
          `${error.message}; ${left.length} unfinished: ${JSON.stringify(left.slice(0, 5))}; reconciles: ${JSON.stringify(reconciles)}\n` +
            `--- worker ---\n${stack.worker!.output().slice(-4000)}`,
        );
      },
    );
    const allDoneAt = Date.now();
    const { rows } = await db.query<{ n: string }>("SELECT count(*) AS n FROM tasks WHERE id = ANY($1) AND status = 'completed'", [ids]);
    expect(Number(rows[0].n)).toBe(ids.length);

    // The reconciler re-added the jobs the promoted replica never had.
    const runs = (await db.query("SELECT result FROM tasks WHERE type = 'system.reconcile' AND status = 'completed'")).rows as Array<{
      result: { requeued?: number } | string;
    }>;
    const requeued = runs
      .map((run) => (typeof run.result === 'string' ? (JSON.parse(run.result) as { requeued?: number }) : run.result))
      .reduce((sum, r) => sum + (r?.requeued ?? 0), 0);
    expect(requeued).toBeGreaterThanOrEqual(1);
    process.stdout.write(
      `sentinel failover: ${ids.length} accepted (${unreplicated} while the replica was frozen), ${refused.length} refused during the failover, ` +
        `promoted ${promotedAt - killedAt} ms after the kill, ${requeued} jobs re-added by the reconciler, all complete ${allDoneAt - killedAt} ms after the kill\n`,
    );
  }, 420_000);
});
