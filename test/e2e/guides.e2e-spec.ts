import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startProcess, uniqueName, waitUntilReady, type AppProcess } from '@conveyor/testing';
import { TEST_ADMIN_KEY, http, startStack, waitForTerminal, type Stack } from './support/stack';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const GUIDES = join(ROOT, 'docs', 'guides');

/** The `sh` blocks of a guide, in order: the guide as a script. */
function shellBlocks(guide: string): string {
  const text = readFileSync(join(GUIDES, guide), 'utf8');
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((match) => match[1]).join('\n');
}

/** The guides are worked examples: their commands run, as written, against the real apps. */
describe('guides', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('runs every curl line of docs/guides/curl.md', async () => {
    const script = shellBlocks('curl.md');
    expect(script.split('\n').filter((line) => line.includes('curl ')).length).toBeGreaterThanOrEqual(8);
    const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], {
      env: { ...process.env, CONVEYOR_URL: stack.apiUrl, CONVEYOR_API_KEY: TEST_ADMIN_KEY },
      timeout: 120_000,
    });
    expect(stdout).toMatch(/^enqueued [0-9a-f-]{36}$/m);
    expect(stdout).toMatch(/^event: status$/m);
  }, 150_000);

  it('scaffolds a task type with npm run new:task-type that builds, is typed for clients and runs end to end', async () => {
    // A copy of the repository (its tracked files), as a team's checkout would be.
    const copy = await mkdtemp(join(tmpdir(), 'conveyor-new-task-type-'));
    const apps: AppProcess[] = [];
    try {
      await run('bash', ['-c', `git ls-files -z | xargs -0 cp --parents -t ${JSON.stringify(copy)}`], { cwd: ROOT, maxBuffer: 1 << 24 });
      await symlink(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
      const generated = await run(process.execPath, [join(copy, 'scripts', 'new-task-type.js'), 'invoice.render'], { cwd: copy });
      expect(generated.stdout).toContain('task type invoice.render');
      expect(await readFile(join(copy, 'apps', 'api', 'src', 'api.module.ts'), 'utf8')).toContain('InvoiceApiModule');
      expect(await readFile(join(copy, 'apps', 'worker', 'src', 'worker.module.ts'), 'utf8')).toContain('InvoiceWorkerModule');
      // A second run refuses: the lib exists.
      await expect(run(process.execPath, [join(copy, 'scripts', 'new-task-type.js'), 'invoice.render'], { cwd: copy })).rejects.toMatchObject({ code: 1 });

      const nest = join(copy, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js');
      await run(process.execPath, [nest, 'build', 'api'], { cwd: copy });
      await run(process.execPath, [nest, 'build', 'worker'], { cwd: copy });
      await run(process.execPath, [join(copy, 'scripts', 'generate-client-types.js')], { cwd: copy });
      expect(await readFile(join(copy, 'libs', 'client', 'src', 'task-types.gen.ts'), 'utf8')).toMatch(
        /'invoice\.render': \{\s+payload: \{\s+subject: string;/,
      );

      // The copy's built API and worker in place of the stack's, on its database and Redis prefix.
      await Promise.all([stack.api?.stop(), stack.worker?.stop()]);
      const api = startProcess(join(copy, 'dist/apps/api/apps/api/src/main.js'), stack.env);
      const worker = startProcess(join(copy, 'dist/apps/worker/apps/worker/src/main.js'), { ...stack.env, WORKER_ID: uniqueName('worker') });
      apps.push(api, worker);
      await waitUntilReady(api, `${stack.apiUrl}/health/ready`, 60_000);
      await waitUntilReady(worker, `${stack.workerUrl}/health/ready`, 60_000);

      const refused = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'invoice.render', payload: { subject: 7 } });
      expect(refused.body.error).toMatchObject({
        code: 'VALIDATION_FAILED',
        details: expect.arrayContaining([expect.objectContaining({ field: 'payload.subject' })]),
      });
      const accepted = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'invoice.render', payload: { subject: 'march' } });
      expect(accepted.status).toBe(202);
      const done = await waitForTerminal(stack.apiUrl, accepted.body.id, 60_000);
      expect(done).toMatchObject({ status: 'completed', result: { subject: 'march', done: true } });
    } finally {
      await Promise.all(apps.map((app) => app.stop()));
      await rm(copy, { recursive: true, force: true });
    }
  }, 400_000);
});
