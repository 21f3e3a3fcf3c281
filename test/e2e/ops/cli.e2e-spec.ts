import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, migrate, type TestDatabase } from '@conveyor/testing';
import { ROOT, runCommand } from './support/ops-processes';

const NODE_BIN_DIR = join(ROOT, 'node_modules', '.bin');

/**
 * The operator CLIs as a new user meets them: through `npm run`, against a real database, and on
 * a fresh clone that has not been built yet.
 */
describe('CLI commands (npm run keys / validate-config / migrate)', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  const npm = (args: string[], extra: Record<string, string> = {}) =>
    runCommand('npm', ['run', '--silent', ...args], { ...env, PATH: `${NODE_BIN_DIR}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...extra });
  const lines = (text: string) => text.trim().split('\n').filter(Boolean);

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    env = { DATABASE_URL: database.url, ENV_FILE: '/nonexistent', NODE_ENV: 'test', LOG_LEVEL: 'warn' };
    await migrate({ ...env });
  }, 60_000);
  afterAll(async () => {
    await database?.drop();
  });

  it('on a fresh clone, before a build, each says what to run instead of MODULE_NOT_FOUND', async () => {
    const clone = mkdtempSync(join(tmpdir(), 'conveyor-clone-'));
    try {
      mkdirSync(join(clone, 'scripts'));
      cpSync(join(ROOT, 'package.json'), join(clone, 'package.json'));
      cpSync(join(ROOT, 'scripts', 'run-built.js'), join(clone, 'scripts', 'run-built.js'));
      for (const script of ['validate-config', 'keys', 'migrate']) {
        const result = await runCommand('npm', ['run', '--silent', script], { PATH: process.env.PATH ?? '/usr/bin:/bin' }, { cwd: clone });
        expect({ script, code: result.code }).toEqual({ script, code: 1 });
        expect(result.stderr).toMatch(/is not built yet: run npm ci && npm run build first/);
        expect(result.output).not.toMatch(/MODULE_NOT_FOUND|at Module\./);
      }
    } finally {
      rmSync(clone, { recursive: true, force: true });
    }
  });

  it('keys: --help exits 0; revoke of a bad or unknown id prints one line; list --json is parseable and hides hashes', async () => {
    const help = await npm(['keys', '--', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/list \[--json\]/);

    const bad = await npm(['keys', '--', 'revoke', 'not-a-key-id']);
    expect({ code: bad.code, lines: lines(bad.output) }).toEqual({ code: 1, lines: ['no live key not-a-key-id'] });
    const unknown = randomUUID();
    const missing = await npm(['keys', '--', 'revoke', unknown]);
    expect({ code: missing.code, lines: lines(missing.output) }).toEqual({ code: 1, lines: [`no live key ${unknown}`] });

    const created = await npm(['keys', '--', 'create', '--tenant', 'acme', '--scopes', 'tasks:read', '--name', 'ci']);
    expect(created.code).toBe(0);
    const { id } = JSON.parse(created.stdout) as { id: string };
    const list = await npm(['keys', '--', 'list', '--json']);
    expect(list.code).toBe(0);
    const parsed = JSON.parse(list.stdout) as { keys: Array<Record<string, unknown>> };
    expect(parsed.keys).toEqual([expect.objectContaining({ id, tenant: 'acme', scopes: ['tasks:read'], name: 'ci' })]);
    expect(list.stdout).not.toMatch(/hash/i);
  });

  it('validate-config shows offending values with secrets masked and warns about misspelt keys', async () => {
    const result = await npm(['validate-config'], { QUEUE_PREFX: 'mine', PORT: 'eighty', CONVEYOR_ADMIN_KEY: 'tiny-secret' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/warning: QUEUE_PREFX is not a Conveyor setting; did you mean QUEUE_PREFIX\?/);
    expect(result.stderr).toMatch(/- PORT="eighty": /);
    expect(result.stderr).toMatch(/- CONVEYOR_ADMIN_KEY="<11 characters, hidden>": /);
    expect(result.output).not.toMatch(/tiny-secret/);

    const valid = await npm(['validate-config']);
    expect(valid.code).toBe(0);
    expect(valid.stderr).toBe(''); // npm's own variables (NODE, npm_*) are not taken for typos
    expect(valid.stdout).toMatch(/configuration is valid/);
  });
});
