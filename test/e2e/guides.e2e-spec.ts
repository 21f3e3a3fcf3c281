import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TEST_ADMIN_KEY, startStack, type Stack } from './support/stack';

const run = promisify(execFile);
const GUIDES = join(__dirname, '..', '..', 'docs', 'guides');

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
});
