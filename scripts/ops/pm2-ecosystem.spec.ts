import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/dockerfile';

/**
 * ecosystem.config.js as pm2 reads it (evaluated by the project's Node 24 with a given
 * environment), and the preload that gives each worker instance its identity. The real pm2
 * run is test/e2e/ops/pm2.e2e-spec.ts.
 */
interface App {
  name: string;
  script: string;
  exec_mode: string;
  instances: number | string;
  kill_timeout: number;
  max_memory_restart: string;
  out_file: string;
  error_file: string;
  node_args?: string[];
  env: Record<string, string | number>;
  env_production: Record<string, string>;
  listen_timeout?: number;
  wait_ready?: boolean;
  interpreter: string;
}

const NODE = process.execPath; // Node 24: the tests run on the project's Node
const BASE_ENV = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ENV_FILE: '/nonexistent' };

function load(env: Record<string, string> = {}, node = NODE, file = join(ROOT, 'ecosystem.config.js')): { apps?: App[]; error?: string } {
  const result = spawnSync(node, ['-e', 'process.stdout.write(JSON.stringify(require(process.argv[1])))', file], {
    env: { ...BASE_ENV, ...env },
    encoding: 'utf8',
  });
  if (result.status !== 0) return { error: result.stderr };
  return { apps: (JSON.parse(result.stdout) as { apps: App[] }).apps };
}
const app = (apps: App[] | undefined, name: string) => apps!.find((a) => a.name === name)!;

describe('ecosystem.config.js', () => {
  it('declares the API as fork instances sharing the port and the worker in fork mode, on the built entry points', () => {
    const { apps, error } = load();
    expect(error).toBeUndefined();
    expect(apps!.map((a) => a.name)).toEqual(['conveyor-api', 'conveyor-worker']);
    const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts;
    expect(app(apps, 'conveyor-api')).toMatchObject({ exec_mode: 'fork', instances: 2, script: scripts['start:api'].replace('node ', '') });
    expect(app(apps, 'conveyor-api')).toMatchObject({ wait_ready: true, env: { HTTP_REUSE_PORT: 'true' } });
    expect(app(apps, 'conveyor-worker')).toMatchObject({ exec_mode: 'fork', instances: 1, script: scripts['start:worker'].replace('node ', '') });
  });

  it('takes the instance counts from the environment', () => {
    const { apps } = load({ API_INSTANCES: 'max', WORKER_INSTANCES: '4' });
    expect(app(apps, 'conveyor-api').instances).toBe('max');
    expect(app(apps, 'conveyor-worker').instances).toBe(4);
    expect(load({ WORKER_INSTANCES: 'lots' }).error).toMatch(/WORKER_INSTANCES must be a count/);
  });

  it('waits longer than SHUTDOWN_GRACE_MS before SIGKILL, also when the grace comes from .env', () => {
    expect(app(load().apps, 'conveyor-worker').kill_timeout).toBeGreaterThan(30_000);
    expect(app(load({ SHUTDOWN_GRACE_MS: '120000' }).apps, 'conveyor-worker').kill_timeout).toBeGreaterThan(120_000);
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-eco-'));
    try {
      writeFileSync(join(dir, '.env'), 'SHUTDOWN_GRACE_MS=90000\nWORKER_HEALTH_PORT=4100\n');
      const worker = app(load({ ENV_FILE: join(dir, '.env') }).apps, 'conveyor-worker');
      expect(worker.kill_timeout).toBeGreaterThan(90_000);
      expect(worker.env.WORKER_HEALTH_PORT).toBe(4100); // the base port the preload offsets
      // the real environment wins over .env, as in the apps
      expect(app(load({ ENV_FILE: join(dir, '.env'), SHUTDOWN_GRACE_MS: '1000' }).apps, 'conveyor-worker').kill_timeout).toBeLessThan(90_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('restarts on memory, writes log files to LOG_DIR, and has a production environment', () => {
    const { apps } = load({ LOG_DIR: '/var/log/conveyor', WORKER_MAX_MEMORY: '2G' });
    for (const a of apps!) {
      expect(a.max_memory_restart).toMatch(/^\d+[KMG]$/);
      expect(a.out_file).toBe(`/var/log/conveyor/${a.name}.out.log`);
      expect(a.error_file).toBe(`/var/log/conveyor/${a.name}.error.log`);
      expect(a.env_production).toMatchObject({ NODE_ENV: 'production' });
    }
    expect(app(apps, 'conveyor-worker').max_memory_restart).toBe('2G');
    expect(app(apps, 'conveyor-api').listen_timeout).toBeGreaterThanOrEqual(10_000); // reload waits for the new API
  });

  it('preloads the per-instance identity into the worker', () => {
    const worker = app(load().apps, 'conveyor-worker');
    expect(worker.node_args).toEqual(['--require', join(ROOT, 'scripts', 'pm2-worker-instance.js')]);
    expect(existsSync(worker.node_args![1])).toBe(true);
  });

  const projectNode = realpathSync(join(ROOT, 'node_modules', 'node', 'bin', 'node'));
  it("runs both apps on the project's Node 24 whatever Node pm2 runs on", () => {
    for (const a of load().apps!) expect(realpathSync(a.interpreter)).toBe(projectNode);
  });

  const systemNode = spawnSync('/usr/bin/node', ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' });
  const oldNode = systemNode.status === 0 && Number(systemNode.stdout) < 24;
  (oldNode ? it : it.skip)("under an older pm2 Node it still picks the project's Node 24, and without one says how to get it", () => {
    for (const a of load({}, '/usr/bin/node').apps!) expect(realpathSync(a.interpreter)).toBe(projectNode);
    // A copy of the file in a folder without node_modules: no Node 24 to use.
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-eco-'));
    try {
      copyFileSync(join(ROOT, 'ecosystem.config.js'), join(dir, 'ecosystem.config.js'));
      expect(load({}, '/usr/bin/node', join(dir, 'ecosystem.config.js')).error).toMatch(/project's Node 24 is not installed: run `npm ci`/);
      expect(load({}, NODE, join(dir, 'ecosystem.config.js')).apps!.map((a) => a.interpreter)).toEqual([NODE, NODE]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('scripts/pm2-worker-instance.js', () => {
  const identity = (env: Record<string, string>) =>
    spawnSync(NODE, ['--require', join(ROOT, 'scripts', 'pm2-worker-instance.js'), '-p', '`${process.env.WORKER_ID} ${process.env.WORKER_HEALTH_PORT}`'], {
      env: { ...BASE_ENV, ...env },
      encoding: 'utf8',
    }).stdout.trim();

  it('gives instance n the id "<host>-n" and the health port base + n', () => {
    expect(identity({ NODE_APP_INSTANCE: '0', WORKER_HEALTH_PORT: '4000' })).toBe(`${hostname().replace(/[^A-Za-z0-9_.:-]/g, '-')}-0 4000`);
    expect(identity({ NODE_APP_INSTANCE: '2', WORKER_HEALTH_PORT: '4000', WORKER_ID: 'eu-worker' })).toBe('eu-worker-2 4002');
    expect(identity({ NODE_APP_INSTANCE: '3' })).toMatch(/-3 3004$/);
  });

  it('changes nothing outside pm2', () => {
    expect(identity({ WORKER_ID: 'solo', WORKER_HEALTH_PORT: '4000' })).toBe('solo 4000');
  });
});
