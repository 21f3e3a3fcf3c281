import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createTestDatabase, deleteRedisPrefix, freePort, TEST_REDIS_URL, uniqueName, waitFor, type TestDatabase } from '@conveyor/testing';
import { commandOf, envOf, flattenStage, parseCopy, readDockerfile, type Dockerfile } from '../../../scripts/ops/support/dockerfile';
import { http, waitForTerminal } from '../support/stack';
import { httpGet, killAllWithEnv, ROOT, runCommand } from './support/ops-processes';

/**
 * No Docker engine here, so this plays the images' stages on the host, taking every command and
 * path from the Dockerfiles themselves: the prod-deps stage's `npm ci --omit=dev` in a fresh
 * directory standing in for /app, dist from the build stage (the same `nest build` the e2e setup
 * ran), the runtime stage's COPYs, ENV, ENTRYPOINT (less tini) and HEALTHCHECK. What it proves:
 * the apps boot and work with production dependencies only, through the entry point, and the
 * health check and SIGTERM behave as the images promise. What it cannot: the base image, apt, tini.
 */
describe('container images, their runtime stage played without an engine', () => {
  const images = { api: readDockerfile('Dockerfile.api'), worker: readDockerfile('Dockerfile.worker') };
  const prefix = uniqueName('ops_img');
  const nodeBinDir = join(ROOT, 'node_modules', 'node', 'bin'); // stands in for the image's Node 24
  let app: string; // stands in for /app
  let database: TestDatabase;
  let env: Record<string, string>;
  const started: ChildProcess[] = [];
  // The images set NODE_ENV=production, where the API refuses a weak admin key.
  const adminKey = randomBytes(32).toString('base64url');
  const auth = { authorization: `Bearer ${adminKey}` };

  const finalStage = (image: Dockerfile) => flattenStage(image, image.stages.at(-1)!);
  const inApp = (path: string) => path.replace(/^\/app(\/|$)/, `${app}/`).replace(/^\.\//, `${app}/`);
  /** the container's environment: the image's ENV, then what `docker run -e` passes */
  const containerEnv = (image: Dockerfile, extra: Record<string, string> = {}) => ({
    ...envOf(finalStage(image)),
    ...env,
    PATH: `${nodeBinDir}:/usr/bin:/bin`,
    ...extra,
  });
  const entrypoint = (image: Dockerfile) => {
    const command = commandOf(finalStage(image).findLast((i) => i.keyword === 'ENTRYPOINT')!.args);
    expect(command[0]).toMatch(/tini$/);
    return command.slice(command.indexOf('--') + 1).map(inApp);
  };
  const healthcheck = async (image: Dockerfile, extra: Record<string, string>) => {
    const [command, ...args] = commandOf(finalStage(image).findLast((i) => i.keyword === 'HEALTHCHECK')!.args).map(inApp);
    return (await runCommand(command === 'node' ? join(nodeBinDir, 'node') : command, args, containerEnv(image, extra), { cwd: app })).code;
  };
  const run = (image: Dockerfile, extra: Record<string, string>) => {
    const [command, ...args] = entrypoint(image);
    const child = spawn(command, args, { cwd: app, env: containerEnv(image, extra), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.push(child);
    // as tini reports it: a child killed by a signal exits 128 + its number
    const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? 128 + constants.signals[signal!])));
    return { child, exited, output: () => output };
  };

  beforeAll(async () => {
    app = mkdtempSync(join(tmpdir(), 'conveyor-image-'));
    const image = images.worker;
    const stage = (name: string) => image.stages.find((s) => s.name === name)!;

    // prod-deps stage: its context COPYs, then its RUN lines, in our stand-in for /app
    for (const instruction of stage('prod-deps').instructions) {
      if (instruction.keyword === 'COPY') {
        const { sources, dest } = parseCopy(instruction.args);
        for (const source of sources) cpSync(join(ROOT, source), join(inApp(dest), source.split('/').at(-1)!));
      } else if (instruction.keyword === 'RUN') {
        // npm needs the machine's own settings (registry, proxy, CA certificates): the whole env
        const npmEnv = { ...(process.env as Record<string, string>), npm_config_prefer_offline: 'true' };
        const result = await runCommand('sh', ['-c', instruction.args], npmEnv, { cwd: app, timeoutMs: 80_000 });
        if (result.code !== 0) throw new Error(`prod-deps RUN failed: ${instruction.args}\n${result.output.slice(-3000)}`);
      }
    }
    // runtime stage: COPY --from=build dist (built by the e2e setup), context files; RUN lines but apt
    for (const instruction of finalStage(image)) {
      if (instruction.keyword === 'COPY') {
        const { from, sources, dest } = parseCopy(instruction.args);
        if (from === 'prod-deps') continue; // already in place
        for (const source of sources) {
          const origin = from === 'build' ? join(ROOT, source.replace(/^\/app\//, '')) : join(ROOT, source);
          const target = dest.endsWith('/') ? join(inApp(dest), source.split('/').at(-1)!) : inApp(dest);
          mkdirSync(dirname(target), { recursive: true });
          cpSync(origin, target, { recursive: true });
        }
      } else if (instruction.keyword === 'RUN' && !instruction.args.includes('apt-get')) {
        const result = await runCommand('sh', ['-c', instruction.args.replace(/\/app\b/g, app)], {}, { cwd: app });
        if (result.code !== 0) throw new Error(`runtime RUN failed: ${instruction.args}\n${result.output}`);
      }
    }

    database = await createTestDatabase('postgres');
    env = {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      CONVEYOR_ADMIN_KEY: adminKey,
      SHUTDOWN_GRACE_MS: '5000',
      ENV_FILE: '/nonexistent',
    };
  }, 120_000);

  afterAll(async () => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await killAllWithEnv('QUEUE_PREFIX', prefix).catch(() => undefined);
    await database?.drop();
    await deleteRedisPrefix(prefix);
    if (app) rmSync(app, { recursive: true, force: true });
  });

  it('the runtime layout has production dependencies only', () => {
    for (const dev of ['@nestjs/cli', 'jest', 'pm2', 'ts-jest', 'node']) {
      expect({ dev, installed: existsSync(join(app, 'node_modules', dev)) }).toEqual({ dev, installed: false });
    }
    for (const prod of ['@nestjs/core', 'bullmq', 'pg', 'mysql2']) expect(existsSync(join(app, 'node_modules', prod))).toBe(true);
    expect(existsSync(join(app, 'dist/apps/api/apps/api/src/main.js'))).toBe(true);
    expect(existsSync(join(app, 'dist/apps/worker/apps/worker/src/main.js'))).toBe(true);
    expect(existsSync(join(app, 'dist/console/index.html'))).toBe(true);
    expect(JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).name).toBe('conveyor');
  });

  it('MODE=validate-config and MODE=migrate run their one-shot commands; an unknown MODE exits 64', async () => {
    const [command, ...args] = entrypoint(images.api);
    const validate = await runCommand(command, args, containerEnv(images.api, { MODE: 'validate-config' }), { cwd: app });
    expect(validate.code).toBe(0);
    expect(validate.stdout).toMatch(/configuration is valid/);

    const migrate = await runCommand(command, args, containerEnv(images.api, { MODE: 'migrate' }), { cwd: app });
    expect(migrate.output).toMatch(/applied: CreateTasks/);
    expect(migrate.code).toBe(0);

    const unknown = await runCommand(command, args, containerEnv(images.api, { MODE: 'scheduler' }), { cwd: app });
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toMatch(/MODE must be/);
  });

  it('each image boots its app; the HEALTHCHECK fails before ready and passes after; a task runs API → worker', async () => {
    const apiPort = String(await freePort());
    const workerPort = String(await freePort());
    const ports = { PORT: apiPort, WORKER_HEALTH_PORT: workerPort };
    expect(await healthcheck(images.worker, ports)).toBe(1); // nothing listens yet

    const api = run(images.api, ports);
    const worker = run(images.worker, ports);
    for (const [image, proc] of [
      [images.api, api],
      [images.worker, worker],
    ] as const) {
      await waitFor(async () => (await healthcheck(image, ports)) === 0, { timeoutMs: 30_000, intervalMs: 300, what: 'HEALTHCHECK to pass' }).catch(
        (error: Error) => {
          throw new Error(`${error.message}\n${proc.output().slice(-3000)}`);
        },
      );
    }
    expect((await httpGet(`http://127.0.0.1:${workerPort}/health/live`)).body.pid).toBe(worker.child.pid); // exec: Node is the entry point's process

    const apiUrl = `http://127.0.0.1:${apiPort}`;
    // The web console ships prebuilt in the image.
    const consolePage = await fetch(`${apiUrl}/console/`);
    expect(consolePage.status).toBe(200);
    expect(await consolePage.text()).toMatch(/<title>Conveyor console<\/title>/);
    const task = await http(apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 800 } }, auth);
    expect(task.status).toBe(202);
    await waitFor(async () => (await http(apiUrl, 'GET', `/v1/tasks/${task.body.id}`, undefined, auth)).body.status === 'active', { what: 'task active' });

    // `docker stop`: SIGTERM to the process tini runs; the worker finishes the task, exits 143
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(143);
    expect(worker.output()).toMatch(/stopping: no new tasks/);
    expect(await waitForTerminal(apiUrl, task.body.id, 20_000, auth)).toMatchObject({ status: 'completed', attempts: 1 });
    api.child.kill('SIGTERM');
    expect(await api.exited).toBe(143);
  });
});
