import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import {
  APP_ENTRY,
  createTestDatabase,
  deleteRedisPrefix,
  freePort,
  migrate,
  startProcess,
  TEST_REDIS_URL,
  uniqueName,
  waitFor,
  waitUntilReady,
  type AppProcess,
  type TestDatabase,
} from '@conveyor/testing';
import { http, notCompletedOnce, TEST_ADMIN_KEY, waitForTerminal } from '../support/stack';
import { httpGet, isAlive, killAllWithEnv, killGroup, pidsWithEnv, ROOT, runCommand } from './support/ops-processes';
import { runRecycleLoad } from './support/recycle-load';

const SCRIPT = join(ROOT, 'scripts', 'start-worker.sh');

/**
 * scripts/start-worker.sh, run as an operator runs it, against real PostgreSQL and Redis: the
 * built worker as a detached process with a PID file and log files in a temp dir.
 */
describe('scripts/start-worker.sh', () => {
  let database: TestDatabase;
  let api: AppProcess;
  let apiUrl: string;
  let dir: string;
  let env: Record<string, string>;
  let pidFile: string;
  let logDir: string;
  const prefix = uniqueName('ops_sw');

  const run = (args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 60_000) =>
    runCommand('bash', [SCRIPT, ...args], { ...env, ...extraEnv }, { timeoutMs });
  const pidInFile = () => Number(readFileSync(pidFile, 'utf8').trim());
  const supervisorPid = () => Number(readFileSync(pidFile.replace(/\.pid$/, '.supervisor.pid'), 'utf8').trim());

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-start-worker-'));
    pidFile = join(dir, 'run', 'worker.pid');
    logDir = join(dir, 'logs');
    database = await createTestDatabase('postgres');
    env = {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      PORT: String(await freePort()),
      WORKER_HEALTH_PORT: String(await freePort()),
      SHUTDOWN_GRACE_MS: '10000',
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      CONVEYOR_ADMIN_KEY: TEST_ADMIN_KEY,
      ENV_FILE: '/nonexistent',
      WORKER_PID_FILE: pidFile,
      WORKER_LOG_DIR: logDir,
    };
    await migrate(env);
    api = startProcess(APP_ENTRY.api, env);
    apiUrl = `http://127.0.0.1:${env.PORT}`;
    await waitUntilReady(api, `${apiUrl}/health/ready`);
  });

  afterAll(async () => {
    // Whatever a failed assertion left running: every process with this test's prefix.
    await killAllWithEnv('QUEUE_PREFIX', prefix).catch(() => undefined);
    await api?.stop();
    await database?.drop();
    await deleteRedisPrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('status exits 3 (LSB "not running") before any start', async () => {
    const status = await run(['status']);
    expect(status.code).toBe(3);
    expect(status.stdout).toMatch(/not running/);
  });

  it('start launches one detached worker with a PID file, and refuses a second copy', async () => {
    const start = await run(['start']);
    expect(start.code).toBe(0);
    expect(start.stdout).toMatch(/worker started \(pid \d+, supervisor \d+\), ready:/);
    const pid = pidInFile();
    expect(isAlive(pid)).toBe(true);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain(APP_ENTRY.worker);
    const live = await httpGet(`http://127.0.0.1:${env.WORKER_HEALTH_PORT}/health/live`);
    expect(live.body.pid).toBe(pid); // the pid file names the worker itself, not a wrapper

    const second = await run(['start']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`already running \\(pid ${pid}`));
    expect(pidInFile()).toBe(pid);
    // the API, exactly one worker and its supervisor (this script) carry this test's prefix
    const supervisor = supervisorPid();
    expect(readFileSync(`/proc/${supervisor}/cmdline`, 'utf8')).toContain(`${SCRIPT}\0supervise`);
    expect(
      pidsWithEnv('QUEUE_PREFIX', prefix)
        .filter((p) => p !== api.child.pid)
        .sort(),
    ).toEqual([pid, supervisor].sort());

    // and it does the work
    const task = await http(apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} });
    expect((await waitForTerminal(apiUrl, task.body.id)).status).toBe('completed');
  });

  it('status prints pid, uptime, RSS, CPU and the health JSON', async () => {
    const pid = pidInFile();
    const status = await run(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`pid:\\s+${pid}\\b`));
    expect(status.stdout).toMatch(/uptime:\s+(\d+-)?(\d+:)?\d+:\d+/);
    expect(status.stdout).toMatch(/rss:\s+[1-9]\d* MB/);
    expect(status.stdout).toMatch(/cpu:\s+\d+(\.\d+)?%/);
    expect(status.stdout).toMatch(/health:\s+ready/);
    const json = JSON.parse(status.stdout.split('\n').find((line) => line.startsWith('{'))!);
    expect(json).toMatchObject({ status: 'ok', worker: { running: true, queues: expect.arrayContaining(['system']) } });
  });

  it('logs shows the JSON log; logs error shows stderr and error-level lines; logs follow tails live', async () => {
    const logs = await run(['logs']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/"msg":"worker started"/);

    // A job of a type no handler knows makes the worker log at error level.
    const queue = new Queue('system', { connection: { url: TEST_REDIS_URL }, prefix });
    const follow = spawn('bash', [SCRIPT, 'logs', 'follow'], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let followed = '';
    follow.stdout.on('data', (chunk: Buffer) => (followed += chunk.toString()));
    try {
      await waitFor(() => followed.includes('"msg":"worker started"'), { what: 'logs follow to print the existing tail' });
      await queue.add('ops.no-such-type', {}, { jobId: randomUUID(), attempts: 1 });
      await waitFor(() => followed.includes('no handler for task type \\"ops.no-such-type\\"'), {
        timeoutMs: 15_000,
        what: 'logs follow to show a new line',
      });
    } finally {
      killGroup(follow.pid, 'SIGTERM');
      await queue.close();
    }

    const errors = await run(['logs', 'error']);
    expect(errors.code).toBe(0);
    expect(errors.stdout).toContain(join(logDir, 'worker.error.log'));
    expect(errors.stdout).toMatch(/"level":50.*no handler for task type/);
    expect(errors.stdout).not.toMatch(/"msg":"worker started"/); // info lines stay out

    expect((await run(['logs', 'bogus'])).code).toBe(2);
  });

  it('stop sends SIGTERM and waits until running tasks finish (graceful), then removes the PID file', async () => {
    const pid = pidInFile();
    const task = await http(apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 2500 } });
    await waitFor(async () => (await http(apiUrl, 'GET', `/v1/tasks/${task.body.id}`)).body.status === 'active', { what: 'task active' });

    const stop = await run(['stop']);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toMatch(new RegExp(`worker stopped \\(pid ${pid}\\)`));
    expect(stop.ms).toBeGreaterThan(1500); // it waited for the task
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
    const done = (await http(apiUrl, 'GET', `/v1/tasks/${task.body.id}`)).body;
    expect(done).toMatchObject({ status: 'completed', attempts: 1, error: null });
    expect(readFileSync(join(logDir, 'worker.log'), 'utf8')).toMatch(/"signal":"SIGTERM".*stopping: no new tasks/);

    expect((await run(['status'])).code).toBe(3);
    expect((await run(['stop'])).code).toBe(0); // stopping a stopped worker is fine (LSB)
  });

  it('status exits 1 for a stale PID file, and start replaces it', async () => {
    const dead = spawn('true');
    await new Promise((resolve) => dead.once('exit', resolve));
    writeFileSync(pidFile, `${dead.pid}\n`);
    const status = await run(['status']);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/pid file .* remains/);

    const start = await run(['start']);
    expect(start.code).toBe(0);
    expect(start.stdout).toMatch(/removing the stale pid file/);
    expect(pidInFile()).not.toBe(dead.pid);
    expect(isAlive(pidInFile())).toBe(true);
  });

  it('restart replaces the running worker with a new process', async () => {
    const before = pidInFile();
    const restart = await run(['restart']);
    expect(restart.code).toBe(0);
    const after = pidInFile();
    expect(after).not.toBe(before);
    expect(isAlive(before)).toBe(false);
    expect(isAlive(after)).toBe(true);
    expect((await httpGet(`http://127.0.0.1:${env.WORKER_HEALTH_PORT}/health/ready`)).status).toBe(200);
  });

  it('stop sends SIGKILL when the worker outlives WORKER_STOP_TIMEOUT_S', async () => {
    const pid = pidInFile();
    const task = await http(apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 20_000 } });
    await waitFor(async () => (await http(apiUrl, 'GET', `/v1/tasks/${task.body.id}`)).body.status === 'active', { what: 'task active' });
    const stop = await run(['stop'], { WORKER_STOP_TIMEOUT_S: '1' });
    expect(stop.code).toBe(0);
    expect(stop.stderr).toMatch(/did not exit within 1s: sending SIGKILL/);
    expect(stop.ms).toBeLessThan(8000);
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
  });

  it('start fails with exit 1 and the error log when the worker cannot boot', async () => {
    const start = await run(['start'], { REDIS_URL: 'http://not-redis' });
    expect(start.code).toBe(1);
    expect(start.stderr).toMatch(/exited during start/);
    expect(start.stderr).toMatch(/REDIS_URL/);
    expect(existsSync(pidFile)).toBe(false);
    expect((await run(['status'])).code).toBe(3);
  });
  it('recycles: WORKER_MAX_TASKS=50 over 500 tasks, each worker drains and exits 75, the supervisor starts the next; none lost, failed or run twice', async () => {
    // Earlier tests wrote to the logs (and left a 20 s task that a worker here may take and cut at
    // the grace period): only what this test adds is checked.
    const logStart = readFileSync(join(logDir, 'worker.log'), 'utf8').length;
    const errorLogStart = readFileSync(join(logDir, 'worker.error.log'), 'utf8').length;
    // A short minimum uptime: these workers live a few seconds each, which is no crash loop.
    const start = await run(['start'], { WORKER_MAX_TASKS: '50', WORKER_CONCURRENCY: '5', WORKER_MIN_UPTIME_S: '1' });
    expect(start.code).toBe(0);
    const supervisor = supervisorPid();
    const firstPid = pidInFile();

    const tasks = await runRecycleLoad(apiUrl, 500);
    expect(tasks).toHaveLength(500);
    expect(notCompletedOnce(tasks)).toEqual([]);
    // WORKER_ID defaults to hostname:pid: the ledger saw several worker processes.
    const workers = new Set(tasks.map((t) => t.workerId));
    expect(workers.size).toBeGreaterThan(1);
    const errorLog = readFileSync(join(logDir, 'worker.error.log'), 'utf8').slice(errorLogStart);
    expect(errorLog.match(/the worker recycled \(exit 75\); starting a fresh one/g)?.length).toBeGreaterThanOrEqual(workers.size - 1);
    const workerLog = readFileSync(join(logDir, 'worker.log'), 'utf8').slice(logStart);
    expect(workerLog).toMatch(/"tasksDone":50,.*"msg":"recycling: no new tasks/);
    // Every worker but the last recycled (a task cut at the grace period would show above as a second attempt).
    expect(workerLog.match(/"msg":"recycling: no new tasks/g)?.length).toBeGreaterThanOrEqual(workers.size - 1);

    // Still supervised by the same supervisor, with a fresh worker; stop ends both.
    expect(supervisorPid()).toBe(supervisor);
    expect(pidInFile()).not.toBe(firstPid);
    expect((await run(['stop'])).code).toBe(0);
    expect(isAlive(supervisor)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
  }, 400_000);
});
