import { Client } from 'pg';
import { freePort, type AppProcess } from '@conveyor/testing';
import { http, startStack, type Stack } from './support/stack';

const RUN_MS = 24_000;

/**
 * Three worker processes and the API run the scheduler on a 1 s schedule; one worker is
 * killed with SIGKILL midway. The ledger must hold exactly one task per tick, with no tick missing: the unique
 * (schedule_id, schedule_tick) key refuses the losers' rows, and the survivors carry on.
 */
describe('schedule ticks with three scheduler workers and the API, one worker killed', () => {
  let stack: Stack;
  const workers: AppProcess[] = [];

  beforeAll(async () => {
    // The API runs the scheduler too: four processes race on every tick.
    stack = await startStack({ worker: false, env: { SCHEDULER_ENABLED: 'true', SCHEDULER_INTERVAL_MS: '250', LOG_LEVEL: 'warn' } });
    for (let i = 0; i < 3; i++) workers.push(await stack.startWorker({ WORKER_HEALTH_PORT: String(await freePort()) }));
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop('SIGKILL')));
    await stack?.stop();
  });

  it('holds exactly one task per tick and none missing', async () => {
    const created = await http(stack.apiUrl, 'POST', '/v1/schedules', {
      everyMs: 1000,
      task: { type: 'system.noop', payload: {} },
      missed: 'catch-up',
    });
    expect(created.status).toBe(201);
    const { id, nextRunAt } = created.body as { id: string; nextRunAt: string };

    await new Promise((resolve) => setTimeout(resolve, RUN_MS / 2));
    const killed = await workers[1].stop('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, RUN_MS / 2));
    const paused = await http(stack.apiUrl, 'POST', `/v1/schedules/${id}/pause`);
    expect(paused.status).toBe(200);
    // A pass that read the schedule before the pause may still be writing its last ticks.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const { lastTickAt } = (await http(stack.apiUrl, 'GET', `/v1/schedules/${id}`)).body as { lastTickAt: string };

    const db = new Client({ connectionString: stack.database.url });
    await db.connect();
    let rows: Array<{ tick: Date; count: string }>;
    try {
      rows = (
        await db.query('SELECT schedule_tick AS tick, COUNT(*) AS count FROM tasks WHERE schedule_id = $1 GROUP BY schedule_tick ORDER BY schedule_tick', [id])
      ).rows;
    } finally {
      await db.end();
    }
    const expected: string[] = [];
    for (let tick = new Date(nextRunAt).getTime(); tick <= new Date(lastTickAt).getTime(); tick += 1000) expected.push(new Date(tick).toISOString());
    expect(expected.length).toBeGreaterThanOrEqual(RUN_MS / 1000 - 3);
    expect(rows.filter((row) => Number(row.count) !== 1)).toEqual([]);
    expect(rows.map((row) => row.tick.toISOString())).toEqual(expected);
  });
});
