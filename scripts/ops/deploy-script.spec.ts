import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/dockerfile';

const SCRIPT = join(ROOT, 'scripts', 'deploy.sh');
const COMPOSE = 'compose -f docker-compose.worker.yml';

/**
 * scripts/deploy.sh without a Docker engine: `--dry-run` output, and real runs against a stub
 * `docker` on PATH that records its arguments (and the Compose-facing environment) and answers
 * `compose version` like Compose does.
 */
describe('scripts/deploy.sh', () => {
  let dir: string;
  let bin: string;
  let log: string;

  /** A stub docker: `compose version --short` prints STUB_COMPOSE_VERSION (or fails when empty). */
  const writeStub = () => {
    writeFileSync(
      join(bin, 'docker'),
      `#!/bin/sh
if [ "$1 $2" = "compose version" ]; then
  [ -n "$STUB_COMPOSE_VERSION" ] || exit 1
  echo "$STUB_COMPOSE_VERSION"; exit 0
fi
echo "$* | ext_db=$EXTERNAL_DATABASE_URL ext_redis=$EXTERNAL_REDIS_URL" >> "${log}"
case "$*" in *pg_dump*) printf 'PGDMP-stub-dump' ;; esac
exit "\${STUB_EXIT:-0}"
`,
    );
    chmodSync(join(bin, 'docker'), 0o755);
  };
  const deploy = (args: string[], env: Record<string, string> = {}, path = `${bin}:/usr/bin:/bin`) => {
    const result = spawnSync('bash', [SCRIPT, ...args], {
      cwd: dir,
      env: { PATH: path, HOME: dir, ENV_FILE: join(dir, 'none.env'), BACKUP_DIR: join(dir, 'backups'), STUB_COMPOSE_VERSION: '2.29.1', ...env },
      encoding: 'utf8',
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-deploy-'));
    bin = join(dir, 'bin');
    log = join(dir, 'docker.log');
    spawnSync('mkdir', ['-p', bin]);
    writeStub();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    [['start'], [`${COMPOSE} up -d`]],
    [['start', 'api'], [`${COMPOSE} up -d api`]],
    [['build'], [`${COMPOSE} build api worker`]],
    [['build', 'worker'], [`${COMPOSE} build worker`]],
    [['stop'], [`${COMPOSE} stop`]],
    [['stop', 'worker'], [`${COMPOSE} stop worker`]],
    [['restart'], [`${COMPOSE} restart api worker`]],
    [['status'], [`${COMPOSE} ps --all`]],
    [['logs', 'worker'], [`${COMPOSE} logs --tail 100 worker`]],
    [['logs', '--follow'], [`${COMPOSE} logs --tail 100 --follow`]],
    [['migrate'], [`${COMPOSE} run --rm migrate`]],
    [['migrate', '--revert'], [`${COMPOSE} run --rm migrate --revert`]],
  ])('--full (the default) %j runs %j against the bundled services', (args, expected) => {
    const result = deploy(args);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    // empty EXTERNAL_* beat a value in .env: the bundled Redis and PostgreSQL are used
    expect(calls()).toEqual(expected.map((c) => `${c} | ext_db= ext_redis=`));
  });

  it('--app-only takes DATABASE_URL and REDIS_URL from the env file, migrates first, starts only the apps', () => {
    const envFile = join(dir, 'app.env');
    writeFileSync(envFile, 'DATABASE_URL="postgres://app:s3cret@db.internal:5432/conveyor"\nexport REDIS_URL=redis://:rpass@redis.internal:6379\n');
    const result = deploy(['start', '--app-only'], { ENV_FILE: envFile });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const ext = 'ext_db=postgres://app:s3cret@db.internal:5432/conveyor ext_redis=redis://:rpass@redis.internal:6379';
    expect(calls()).toEqual([
      `compose -f docker-compose.worker.yml --env-file ${envFile} run --rm --no-deps migrate | ${ext}`,
      `compose -f docker-compose.worker.yml --env-file ${envFile} up -d --no-deps api worker | ${ext}`,
    ]);
  });

  it('--dry-run prints the commands with passwords masked and runs nothing, even without Docker', () => {
    const env = { DATABASE_URL: 'postgres://app:s3cret@db:5432/c', REDIS_URL: 'redis://:rpass@r:6379' };
    const result = deploy(['--dry-run', '--app-only', 'start', 'worker'], env, '/usr/bin:/bin');
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([
      `EXTERNAL_DATABASE_URL=postgres://app:***@db:5432/c EXTERNAL_REDIS_URL=redis://:***@r:6379 docker ${COMPOSE} run --rm --no-deps migrate`,
      `EXTERNAL_DATABASE_URL=postgres://app:***@db:5432/c EXTERNAL_REDIS_URL=redis://:***@r:6379 docker ${COMPOSE} up -d --no-deps worker`,
    ]);
    expect(result.stdout).not.toMatch(/s3cret|rpass/);
    expect(calls()).toEqual([]);
  });

  it('backup (full) dumps from the postgres container to a dated .pgdump, written whole', () => {
    const result = deploy(['backup']);
    expect(result.code).toBe(0);
    expect(calls()).toEqual([`${COMPOSE} exec -T postgres pg_dump -U conveyor --format custom --compress 6 --no-owner conveyor | ext_db= ext_redis=`]);
    const files = readdirSync(join(dir, 'backups'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^conveyor-conveyor-\d{8}T\d{6}Z\.pgdump$/);
    expect(readFileSync(join(dir, 'backups', files[0]), 'utf8')).toBe('PGDMP-stub-dump');
  });

  it('a failing dump leaves no file behind and fails', () => {
    const result = deploy(['backup'], { STUB_EXIT: '1' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/pg_dump in the postgres container failed/);
    expect(readdirSync(join(dir, 'backups'))).toEqual([]);
  });

  it('passes a failing docker command’s exit code on', () => {
    expect(deploy(['start'], { STUB_EXIT: '17' }).code).toBe(17);
  });

  it('says clearly when Docker or Compose is missing or too old (exit 3), before running anything', () => {
    const noDocker = deploy(['start'], {}, '/usr/bin:/bin');
    expect(noDocker.code).toBe(3);
    expect(noDocker.stderr).toMatch(/docker not found on PATH/);

    const noCompose = deploy(['start'], { STUB_COMPOSE_VERSION: '' });
    expect(noCompose.code).toBe(3);
    expect(noCompose.stderr).toMatch(/Docker Compose not found/);

    const old = deploy(['start'], { STUB_COMPOSE_VERSION: 'v2.12.2' });
    expect(old.code).toBe(3);
    expect(old.stderr).toMatch(/Docker Compose 2\.12\.2 is too old: .* needs v2\.20/);
    expect(calls()).toEqual([]);
  });

  it('refuses bad usage with exit 2 and runs nothing; --help exits 0', () => {
    for (const args of [[], ['deploy'], ['start', 'scheduler'], ['start', '--full', '--app-only'], ['start', '--follow'], ['start', '--bogus']]) {
      const result = deploy(args);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toMatch(/usage: scripts\/deploy\.sh/);
    }
    const appOnly = deploy(['start', '--app-only']);
    expect(appOnly.code).toBe(2);
    expect(appOnly.stderr).toMatch(/--app-only needs DATABASE_URL and REDIS_URL/);
    expect(calls()).toEqual([]);

    const help = deploy(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/build\|start\|stop\|restart\|status\|logs\|migrate\|backup/);
  });

  // shellcheck is a Debian package (scripts/ensure-services.sh installs it): CI always runs this.
  const hasShellcheck = spawnSync('sh', ['-c', 'command -v shellcheck']).status === 0;
  (hasShellcheck || process.env.CI ? it : it.skip)('is clean under shellcheck', () => {
    const result = spawnSync(
      'shellcheck',
      [SCRIPT, join(ROOT, 'scripts/docker-entrypoint.sh'), join(ROOT, 'scripts/start-worker.sh'), join(ROOT, 'scripts/lib/setting.sh')],
      { encoding: 'utf8' },
    );
    expect(result.stdout).toBe('');
  });
});
