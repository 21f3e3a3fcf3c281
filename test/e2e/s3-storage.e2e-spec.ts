import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@conveyor/testing';
import { startStack, TEST_ADMIN_KEY, waitForTerminal, type Stack } from './support/stack';

// s3rver ships no typings; it is a test-only, in-process S3-compatible server.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => { run(): Promise<unknown>; close(): Promise<void> };
const BUCKET = 'conveyor-e2e';

/**
 * STORAGE_DRIVER=s3 in the built apps: the S3 driver is loaded only when configured (the AWS
 * SDK stays out of a process that stores files locally), so this checks that both apps load
 * it and use it: an upload through the API, a cleaning on the worker, downloads of both.
 */
describe('file storage on an S3-compatible server', () => {
  let stack: Stack;
  let server: { run(): Promise<unknown>; close(): Promise<void> };
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-e2e-s3-'));
    const port = await freePort();
    server = new S3rver({ port, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: BUCKET }] });
    await server.run();
    stack = await startStack({
      env: {
        STORAGE_DRIVER: 's3',
        S3_ENDPOINT: `http://127.0.0.1:${port}`,
        S3_BUCKET: BUCKET,
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
      },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores an upload and a cleaning output in the bucket and serves both', async () => {
    const form = new FormData();
    form.append('rules', JSON.stringify({ trimWhitespace: true }));
    form.append('file', new Blob(['email,name\n a@b.c ,Ann\n'], { type: 'text/csv' }), 'people.csv');
    const response = await fetch(`${stack.apiUrl}/v1/cleaning-jobs`, { method: 'POST', body: form, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
    expect(response.status).toBe(202);
    const accepted = (await response.json()) as { task: { id: string }; file: { id: string } };
    const clean = await waitForTerminal(stack.apiUrl, accepted.task.id, 30_000);
    expect(clean.status).toBe('completed');
    const outputId = (clean.result as { outputFileId: string }).outputFileId;

    const content = async (fileId: string) =>
      (await fetch(`${stack.apiUrl}/v1/files/${fileId}/content`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } })).text();
    expect(await content(accepted.file.id)).toBe('email,name\n a@b.c ,Ann\n');
    expect(await content(outputId)).toMatch(/^email,name\r?\na@b\.c,Ann\r?\n$/);
    // The objects are in the bucket, not on the local disk.
    expect(readdirSync(join(dir, BUCKET), { recursive: true }).length).toBeGreaterThan(0);
  });
});
