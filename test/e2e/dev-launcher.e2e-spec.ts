import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteRedisPrefix, freePort, startProcess, uniqueName, waitFor } from '@conveyor/testing';
import { http, waitForTerminal } from './support/stack';

/**
 * The Quickstart's run line: `npm run dev` with no DATABASE_URL serves the embedded PostgreSQL
 * (PGlite), migrates, starts both apps and prints the banner; a task goes all the way through.
 */
const base0 = (port: number) => `http://127.0.0.1:${port}`;

describe('dev launcher (npm run dev) with the embedded database', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'conveyor-dev-'));
  const prefix = uniqueName('devlaunch');

  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await deleteRedisPrefix(prefix);
  });

  it('starts API + worker on PGlite and runs system.sleep to completion, then stops cleanly on Ctrl-C', async () => {
    const [api, worker, pg] = [await freePort(), await freePort(), await freePort()];
    const launcher = startProcess(
      join(__dirname, '..', '..', 'scripts', 'dev.js'),
      {
        DEV_DATA_DIR: dataDir,
        PORT: String(api),
        WORKER_HEALTH_PORT: String(worker),
        EMBEDDED_PG_PORT: String(pg),
        QUEUE_PREFIX: prefix,
        REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379',
        LOG_PRETTY: '1',
      },
      ['--no-build'],
    );
    try {
      await waitFor(() => launcher.output().includes('Conveyor is running'), { timeoutMs: 60_000, what: `the banner\n${launcher.output()}` });
      // LOG_PRETTY=1: the apps' JSON lines shown through pino-pretty, still tagged by app.
      const apiLine = new RegExp(`\\[api\\] \\[\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\] INFO: Bootstrap: API listening on port ${api}`);
      const workerLine = /\[worker\] \[[\d:.]+\] INFO: Bootstrap: worker started/;
      await waitFor(() => apiLine.test(launcher.output()) && workerLine.test(launcher.output()), { what: `readable app lines\n${launcher.output()}` });
      expect(launcher.output()).not.toMatch(/\[api\] \{"level"/);
      expect(launcher.output()).toMatch(/embedded PostgreSQL \(PGlite\)/);
      expect(launcher.output()).toMatch(new RegExp(`API docs +http://localhost:${api}/docs`));
      expect(launcher.output()).toMatch(new RegExp(`Queue dashboard +http://localhost:${api}/admin/queues`));
      expect((await http(base0(api), 'GET', '/docs/json')).status).toBe(200);

      // a second launcher (own data dir, same embedded database port) refuses instead of sharing
      const secondDir = mkdtempSync(join(tmpdir(), 'conveyor-dev2-'));
      const second = startProcess(
        join(__dirname, '..', '..', 'scripts', 'dev.js'),
        {
          DEV_DATA_DIR: secondDir,
          PORT: String(await freePort()),
          WORKER_HEALTH_PORT: String(await freePort()),
          EMBEDDED_PG_PORT: String(pg),
          QUEUE_PREFIX: prefix,
        },
        ['--no-build'],
      );
      const { code: secondCode } = await second.exited;
      rmSync(secondDir, { recursive: true, force: true });
      expect(secondCode).toBe(1);
      expect(second.output()).toMatch(new RegExp(`port ${pg} \\(embedded PostgreSQL\\) is already in use, probably by another dev launcher`));
      expect(second.output()).not.toMatch(/Conveyor is running/);
      const key = readFileSync(join(dataDir, 'dev-admin-key'), 'utf8').trim();
      // Webhook secrets are sealed in development too, under a key made for this data directory.
      expect(Buffer.from(readFileSync(join(dataDir, 'dev-webhook-secret-key'), 'utf8').trim(), 'base64')).toHaveLength(32);
      const auth = { authorization: `Bearer ${key}` };
      const base = `http://127.0.0.1:${api}`;
      const created = await http(base, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 300 } }, auth);
      expect(created.status).toBe(202);
      const done = await waitForTerminal(base, created.body.id, 20_000, auth);
      expect(done).toMatchObject({ status: 'completed', attempts: 1, progress: { percent: 100 }, result: { attempt: 1 } });
      expect(done.workerId).toBeTruthy();
      expect((await http(`http://127.0.0.1:${worker}`, 'GET', '/health/ready')).status).toBe(200);
    } finally {
      const { code } = await launcher.stop('SIGINT', 60_000);
      expect(code).toBe(0);
    }
    expect(launcher.output()).toMatch(/all stopped/);
  });
});
