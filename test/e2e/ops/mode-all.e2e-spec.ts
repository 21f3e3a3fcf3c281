import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, deleteRedisPrefix, freePort, migrate, TEST_REDIS_URL, uniqueName, waitFor, type TestDatabase } from '@conveyor/testing';
import { http, TEST_ADMIN_KEY, waitForTerminal } from '../support/stack';
import { httpGet, isAlive, killAllWithEnv, ROOT, runCommand } from './support/ops-processes';

const ENTRYPOINT = join(ROOT, 'scripts', 'docker-entrypoint.sh');
const HEALTHCHECK = join(ROOT, 'scripts', 'healthcheck.js');
const NODE_BIN_DIR = join(ROOT, 'node_modules', 'node', 'bin'); // stands in for the image's Node 24
const LOCK_MS = 2000;

/**
 * MODE=all of the image's entry point, run for real on the built dist (no Docker needed): the API
 * and the worker supervised by one shell. Both answer health, a task runs, SIGTERM stops both
 * gracefully; when one app dies (kill -9), the other is stopped and the entry point fails, and a
 * restart finishes the task the dead worker held.
 */
describe('docker-entrypoint.sh MODE=all', () => {
  const prefix = uniqueName('ops_all');
  const auth = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
  let database: TestDatabase;
  let env: Record<string, string>;
  let apiUrl: string;
  let workerUrl: string;
  const started: ChildProcess[] = [];

  const start = () => {
    const child = spawn(ENTRYPOINT, [], { cwd: ROOT, env: env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.push(child);
    const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + constants.signals[signal!])));
    return { child, exited, output: () => output };
  };
  const healthcheck = async () => (await runCommand(join(NODE_BIN_DIR, 'node'), [HEALTHCHECK], env)).code;
  const bothReady = async (proc: ReturnType<typeof start>) => {
    await waitFor(async () => (await healthcheck()) === 0, { timeoutMs: 40_000, intervalMs: 300, what: 'both apps ready' }).catch((error: Error) => {
      throw new Error(`${error.message}\n${proc.output().slice(-3000)}`);
    });
    return {
      api: (await httpGet(`${apiUrl}/health/live`)).body.pid as number,
      worker: (await httpGet(`${workerUrl}/health/live`)).body.pid as number,
    };
  };

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const apiPort = await freePort();
    const workerPort = await freePort();
    apiUrl = `http://127.0.0.1:${apiPort}`;
    workerUrl = `http://127.0.0.1:${workerPort}`;
    env = {
      PATH: `${NODE_BIN_DIR}:/usr/bin:/bin`,
      MODE: 'all',
      NODE_ENV: 'test',
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      CONVEYOR_ADMIN_KEY: TEST_ADMIN_KEY,
      PORT: String(apiPort),
      WORKER_HEALTH_PORT: String(workerPort),
      SHUTDOWN_GRACE_MS: '10000',
      WORKER_LOCK_DURATION_MS: String(LOCK_MS),
      WORKER_STALLED_INTERVAL_MS: '1000',
      ENV_FILE: '/nonexistent',
    };
    await migrate(env);
  }, 60_000);

  afterAll(async () => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await killAllWithEnv('QUEUE_PREFIX', prefix).catch(() => undefined);
    await database?.drop();
    await deleteRedisPrefix(prefix);
  });

  it('runs both apps, healthy together; SIGTERM drains the running task and stops both with 143', async () => {
    expect(await healthcheck()).toBe(1); // nothing listens yet
    const all = start();
    const pids = await bothReady(all);
    expect(pids.api).not.toBe(pids.worker);
    expect(pids.api).not.toBe(all.child.pid);

    const task = await http(apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 1500 } }, auth);
    expect(task.status).toBe(202);
    await waitFor(async () => (await http(apiUrl, 'GET', `/v1/tasks/${task.body.id}`, undefined, auth)).body.status === 'active', { what: 'task active' });

    // `docker stop`: tini hands SIGTERM to the entry point, which hands it to both apps once
    all.child.kill('SIGTERM');
    expect(await all.exited).toBe(143);
    expect(all.output()).toMatch(/stopping: no new tasks/);
    expect(all.output()).toMatch(/API and worker stopped \(SIGTERM\)/);
    expect([isAlive(pids.api), isAlive(pids.worker)]).toEqual([false, false]);

    // the worker finished the task before it exited: the ledger says so without any app running
    const restarted = start();
    await bothReady(restarted);
    expect(await waitForTerminal(apiUrl, task.body.id, 5_000, auth)).toMatchObject({ status: 'completed', attempts: 1 });
    restarted.child.kill('SIGTERM');
    expect(await restarted.exited).toBe(143);
  }, 90_000);

  it('kill -9 of the worker stops the API too and fails the container; after a restart the task completes', async () => {
    const all = start();
    const pids = await bothReady(all);
    const task = await http(apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 1000 } }, auth);
    expect(task.status).toBe(202);
    await waitFor(async () => (await http(apiUrl, 'GET', `/v1/tasks/${task.body.id}`, undefined, auth)).body.status === 'active', { what: 'task active' });

    process.kill(pids.worker, 'SIGKILL');
    expect(await all.exited).toBe(128 + constants.signals.SIGKILL);
    expect(all.output()).toMatch(/the worker exited on its own \(code 137\): stopping the other app/);
    expect(isAlive(pids.api)).toBe(false); // the API went with it: no API without a worker

    // the restart policy's part: the task the dead worker held runs again (stalled job) and completes
    const restarted = start();
    await bothReady(restarted);
    const done = await waitForTerminal(apiUrl, task.body.id, LOCK_MS + 20_000, auth);
    expect(done.status).toBe('completed');
    restarted.child.kill('SIGTERM');
    expect(await restarted.exited).toBe(143);
  }, 90_000);
});
