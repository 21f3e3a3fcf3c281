import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createTestDatabase, deleteRedisPrefix, freePort, migrate, TEST_REDIS_URL, uniqueName, waitFor, type TestDatabase } from '@conveyor/testing';
import { http, notCompletedOnce, TEST_ADMIN_KEY, type TaskView } from '../support/stack';
import { freePortRange, httpGet, isAlive, killAllWithEnv, ROOT, runCommand } from './support/ops-processes';
import { runRecycleLoad } from './support/recycle-load';

const PM2 = join(ROOT, 'node_modules', 'pm2', 'bin', 'pm2');
const PROJECT_NODE = realpathSync(join(ROOT, 'node_modules', 'node', 'bin', 'node'));

/**
 * The Node an operator's pm2 would run on: the first `node` on PATH outside the project (the
 * system's; Node 20 on these machines), else the project's own.
 */
function operatorNode(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'node');
    if (!dir.includes('node_modules') && existsSync(candidate) && realpathSync(candidate) !== PROJECT_NODE) return candidate;
  }
  return process.execPath;
}
const OPERATOR_NODE = operatorNode();
const OPERATOR_NODE_VERSION = execFileSync(OPERATOR_NODE, ['--version'], { encoding: 'utf8' }).trim();

interface Pm2Process {
  name: string;
  pid: number;
  pm_id: number;
  pm2_env: { status: string; exec_mode: string; restart_time: number; NODE_APP_INSTANCE?: number; kill_timeout?: number };
}

/**
 * `pm2 start ecosystem.config.js` as an operator runs it: pm2 on the machine's own Node (20 here,
 * not the project's 24), on a private PM2_HOME (never the machine's pm2 daemon), against real
 * PostgreSQL and Redis. The apps must still run on the project's Node 24.
 */
describe(`pm2 on ${OPERATOR_NODE_VERSION} with ecosystem.config.js`, () => {
  let database: TestDatabase;
  let dir: string;
  let env: Record<string, string>;
  let apiUrl: string;
  let workerPort: number;
  const prefix = uniqueName('ops_pm2');
  const workerUrl = (instance: number) => `http://127.0.0.1:${workerPort + instance}`;

  const pm2 = async (...args: string[]) => {
    const result = await runCommand(OPERATOR_NODE, [PM2, ...args], env, { timeoutMs: 60_000 });
    if (result.code !== 0) throw new Error(`pm2 ${args.join(' ')} exited ${result.code}:\n${result.output}`);
    return result;
  };
  const list = async (): Promise<Pm2Process[]> => JSON.parse((await pm2('jlist')).stdout) as Pm2Process[];
  const ready = (url: string) => waitFor(async () => (await httpGet(`${url}/health/ready`)).status === 200, { timeoutMs: 45_000, what: `${url}/health/ready` });
  const failWithLogs = async (error: unknown): Promise<never> => {
    const logs = ['conveyor-api.error.log', 'conveyor-worker.error.log', 'conveyor-worker.out.log']
      .map((file) => join(dir, 'logs', file))
      .filter(existsSync)
      .map((file) => `--- ${file}\n${readFileSync(file, 'utf8').slice(-2000)}`);
    throw new Error(`${String(error)}\n${logs.join('\n')}`);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-pm2-'));
    database = await createTestDatabase('postgres');
    workerPort = await freePortRange(2);
    env = {
      PM2_HOME: join(dir, 'pm2'),
      LOG_DIR: join(dir, 'logs'),
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      PORT: String(await freePort()),
      WORKER_HEALTH_PORT: String(workerPort),
      API_INSTANCES: '2',
      WORKER_INSTANCES: '2',
      SHUTDOWN_GRACE_MS: '10000',
      CONVEYOR_ADMIN_KEY: TEST_ADMIN_KEY,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      ENV_FILE: '/nonexistent',
    };
    apiUrl = `http://127.0.0.1:${env.PORT}`;
    await migrate(env);
  });

  afterAll(async () => {
    // `pm2 kill` stops the apps and this test's daemon; then anything left with this prefix.
    if (dir && existsSync(env.PM2_HOME)) await runCommand(OPERATOR_NODE, [PM2, 'kill'], env, { timeoutMs: 30_000 }).catch(() => undefined);
    await killAllWithEnv('QUEUE_PREFIX', prefix).catch(() => undefined);
    await database?.drop();
    await deleteRedisPrefix(prefix);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('start brings the API (×2 sharing the port) and the worker (×2, own WORKER_ID and port each) online on Node 24', async () => {
    await pm2('start', 'ecosystem.config.js');
    await Promise.all([ready(apiUrl), ready(workerUrl(0)), ready(workerUrl(1))]).catch(failWithLogs);

    const processes = await list();
    const summary = processes.map((p) => [p.name, p.pm2_env.exec_mode, p.pm2_env.status]).sort();
    expect(summary).toEqual([
      ['conveyor-api', 'fork_mode', 'online'],
      ['conveyor-api', 'fork_mode', 'online'],
      ['conveyor-worker', 'fork_mode', 'online'],
      ['conveyor-worker', 'fork_mode', 'online'],
    ]);
    // every app process runs the project's Node 24, whatever Node pm2 itself runs on
    expect(processes.map((p) => realpathSync(readlinkSync(`/proc/${p.pid}/exe`)))).toEqual(processes.map(() => PROJECT_NODE));
    const worker = processes.find((p) => p.name === 'conveyor-worker')!;
    expect(worker.pm2_env.kill_timeout).toBeGreaterThan(Number(env.SHUTDOWN_GRACE_MS));

    const ids = await Promise.all([0, 1].map(async (n) => (await httpGet(`${workerUrl(n)}/health/live`)).body.workerId));
    const host = hostname().replace(/[^A-Za-z0-9_.:-]/g, '-');
    expect(ids.sort()).toEqual([`${host}-0`, `${host}-1`]);

    const created = await http(apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} });
    expect(created.status).toBe(202);
    const done = await waitFor(async () => {
      const { body } = await http(apiUrl, 'GET', `/v1/tasks/${created.body.id}`);
      return body.status === 'completed' ? (body as TaskView) : undefined;
    });
    expect(ids).toContain(done.workerId);

    // log files where ecosystem.config.js puts them, JSON lines from both apps
    expect(readFileSync(join(env.LOG_DIR, 'conveyor-api.out.log'), 'utf8')).toMatch(/"service":"conveyor-api".*"msg":"API listening/);
    expect(readFileSync(join(env.LOG_DIR, 'conveyor-worker.out.log'), 'utf8')).toMatch(/"service":"conveyor-worker".*"msg":"worker started"/);
  });

  it('reload during a stream of system.sleep tasks loses and fails none', async () => {
    const before = await list();
    const ids = new Set<string>();
    const refused: string[] = []; // submissions that never got a task
    const transient: string[] = []; // answers a client retries (see the note below)
    let streaming = true;
    let submitted = 0;
    // A well-behaved client: each submission carries an Idempotency-Key and is retried on a 503
    // or a dropped connection. (An API process that has begun to stop answers requests arriving
    // on an already open keep-alive connection with Fastify's 503 "Service Unavailable"; the
    // retry, safe through the key, reaches a live process.)
    const submit = async (key: string) => {
      for (let attempt = 1; attempt <= 5; attempt++) {
        const response = await http(apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 600 } }, { 'idempotency-key': key }).catch(
          (error: Error) => ({ status: 0, body: String(error.cause ?? error) }),
        );
        if (response.status === 202 || response.status === 200) return void ids.add(response.body.id);
        const answer = `${response.status} ${JSON.stringify(response.body)}`;
        if (response.status !== 503 && response.status !== 0) return void refused.push(`${key}: ${answer}`);
        transient.push(`${key}: ${answer}`);
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
      refused.push(`${key}: gave up after 5 attempts`);
    };
    const stream = (async () => {
      while (streaming) {
        await submit(`${prefix}-reload-${submitted++}`);
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
    })();
    try {
      await waitFor(() => ids.size >= 20, { what: 'tasks to flow before the reload' });
      const reload = await pm2('reload', 'ecosystem.config.js');
      expect(reload.stdout).toMatch(/conveyor-worker/);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // keep posting to the new processes
    } finally {
      streaming = false;
      await stream;
    }
    await Promise.all([ready(apiUrl), ready(workerUrl(0)), ready(workerUrl(1))]).catch(failWithLogs);

    expect(refused).toEqual([]); // every submission got its task
    expect(ids.size).toBe(submitted);
    expect(ids.size).toBeGreaterThan(40);
    if (transient.length > 0) console.info(`pm2 reload: ${transient.length} retried answer(s):\n${transient.join('\n')}`);
    const finished = await waitFor(
      async () => {
        const tasks = await Promise.all([...ids].map(async (id) => (await http(apiUrl, 'GET', `/v1/tasks/${id}`)).body as TaskView));
        return tasks.every((t) => ['completed', 'failed', 'cancelled', 'expired'].includes(t.status)) ? tasks : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 500, what: `${ids.size} tasks to finish` },
    );
    const notCompleted = finished.filter((t) => t.status !== 'completed' || t.attempts !== 1);
    expect(notCompleted.map((t) => ({ id: t.id, status: t.status, attempts: t.attempts, error: t.error }))).toEqual([]);

    // every process was replaced, and each old worker stopped gracefully (drained, not killed)
    const after = await list();
    expect(after.map((p) => p.pm2_env.restart_time)).toEqual(after.map(() => 1));
    const oldPids = before.map((p) => p.pid);
    expect(after.filter((p) => oldPids.includes(p.pid))).toEqual([]);
    expect(oldPids.filter(isAlive)).toEqual([]);
    const workerLog = readFileSync(join(env.LOG_DIR, 'conveyor-worker.out.log'), 'utf8');
    expect(workerLog.match(/stopping: no new tasks/g)?.length).toBe(2);
    expect(workerLog).not.toMatch(/grace period over/);
  }, 90_000);

  it('delete stops and removes every process', async () => {
    const pids = (await list()).map((p) => p.pid);
    expect(pids).toHaveLength(4);
    await pm2('delete', 'ecosystem.config.js');
    expect(await list()).toEqual([]);
    await waitFor(() => pids.every((pid) => !isAlive(pid)), { what: 'app processes to exit' });
    expect((await httpGet(`${apiUrl}/health/live`)).status).toBe(0);
    expect((await httpGet(`${workerUrl(0)}/health/live`)).status).toBe(0);
  });

  it('--only conveyor-worker starts the worker alone', async () => {
    await pm2('start', 'ecosystem.config.js', '--only', 'conveyor-worker');
    await Promise.all([ready(workerUrl(0)), ready(workerUrl(1))]).catch(failWithLogs);
    const processes = await list();
    expect(processes.map((p) => p.name)).toEqual(['conveyor-worker', 'conveyor-worker']);
    expect((await httpGet(`${apiUrl}/health/live`)).status).toBe(0);
    await pm2('delete', 'ecosystem.config.js');
    expect(await list()).toEqual([]);
  });

  it('recycles: WORKER_MAX_TASKS=50 over 500 tasks, pm2 restarts each worker that exits 75; none lost, failed or run twice', async () => {
    const recycleEnv = { ...env, WORKER_MAX_TASKS: '50', WORKER_CONCURRENCY: '5' };
    const logFile = join(env.LOG_DIR, 'conveyor-worker.out.log');
    const logStart = existsSync(logFile) ? readFileSync(logFile, 'utf8').length : 0; // earlier tests wrote to it
    const started = await runCommand(OPERATOR_NODE, [PM2, 'start', 'ecosystem.config.js'], recycleEnv, { timeoutMs: 60_000 });
    expect(started.code).toBe(0);
    await Promise.all([ready(apiUrl), ready(workerUrl(0)), ready(workerUrl(1))]).catch(failWithLogs);
    const firstPids = (await list()).filter((p) => p.name === 'conveyor-worker').map((p) => p.pid);

    const tasks = await runRecycleLoad(apiUrl, 500).catch(failWithLogs);
    expect(tasks).toHaveLength(500);
    expect(notCompletedOnce(tasks)).toEqual([]);

    // pm2 keeps WORKER_ID per instance: the processes are told apart by pid and by their log lines.
    const count = (msg: string) => readFileSync(logFile, 'utf8').slice(logStart).split(`"msg":"${msg}`).length - 1;
    const recycled = count('recycling: no new tasks');
    expect(recycled).toBeGreaterThanOrEqual(4); // 500 tasks, 50 per process: about 8
    // Each recycled process was replaced (the last ones may still be starting).
    const workers = await waitFor(
      async () => {
        const current = (await list()).filter((p) => p.name === 'conveyor-worker');
        const restarts = current.reduce((sum, p) => sum + p.pm2_env.restart_time, 0);
        return count('worker started') === 2 + recycled && restarts === recycled && current.every((p) => p.pm2_env.status === 'online') ? current : undefined;
      },
      { timeoutMs: 60_000, what: 'every recycled worker to be replaced' },
    ).catch(failWithLogs);
    expect(firstPids.filter(isAlive)).toEqual([]);
    expect(workers.map((p) => p.pid).filter((pid) => firstPids.includes(pid))).toEqual([]);
    expect(readFileSync(logFile, 'utf8').slice(logStart)).not.toMatch(/grace period over/);
    await pm2('delete', 'ecosystem.config.js');
  }, 400_000);
});
