import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { APP_ENTRY, freePort, startProcess, TestReceiver, waitFor, type Received } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack } from './support/stack';

const PROBE = join(__dirname, 'fixtures', 'sentry-module-probe.js');

interface SentryEvent {
  event_id: string;
  server_name?: string;
  environment?: string;
  tags?: Record<string, string>;
  contexts?: Record<string, Record<string, unknown>>;
  exception?: { values: Array<{ type: string; value: string; mechanism?: { type: string; handled: boolean } }> };
}

/** The events of an envelope as the SDK sent it: a header line, then item header and payload lines. */
function eventsOf(request: Received): SentryEvent[] {
  expect(request.headers['content-encoding']).toBeUndefined();
  const lines = request.body.split('\n');
  const events: SentryEvent[] = [];
  for (let i = 1; i + 1 < lines.length; i += 2) {
    const item = JSON.parse(lines[i]) as { type: string };
    if (item.type === 'event') events.push(JSON.parse(lines[i + 1]) as SentryEvent);
  }
  return events;
}

/**
 * Error reporting with the real Sentry SDK, against a local HTTP endpoint standing in for
 * Sentry's ingest: a final task failure (tags, no payload), a 5xx of the API, and an error
 * nothing catches in each app. Without SENTRY_DSN the SDK is never loaded.
 */
describe('error reporting', () => {
  let ingest: TestReceiver;
  let stack: Stack;
  let probeDir: string;
  let dsn: string;
  const events = () => ingest.received.filter((request) => request.path.startsWith('/api/1/envelope/')).flatMap(eventsOf);
  const sentryModules = (name: string): string[] => JSON.parse(readFileSync(join(probeDir, name), 'utf8')) as string[];

  beforeAll(async () => {
    ingest = await new TestReceiver().start();
    dsn = `http://publickey@127.0.0.1:${ingest.port}/1`;
    probeDir = mkdtempSync(join(tmpdir(), 'conveyor-sentry-probe-'));
    stack = await startStack({ env: { SENTRY_DSN: dsn, SENTRY_ENVIRONMENT: 'e2e' } });
  });

  afterAll(async () => {
    await stack?.stop();
    await ingest?.stop();
    rmSync(probeDir, { recursive: true, force: true });
  });

  it('reports a final task failure with its tags, without its payload; a retried attempt is not reported', async () => {
    const task = (await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 4321, failTimes: 5 }, maxAttempts: 2 })).body;
    expect(await waitForTerminal(stack.apiUrl, task.id, 30_000)).toMatchObject({ status: 'failed', attempts: 2 });
    const [event] = await waitFor(
      async () => {
        const found = events().filter((e) => e.tags?.['task.id'] === task.id);
        return found.length > 0 ? found : undefined;
      },
      { timeoutMs: 20_000, what: 'the failure report' },
    );
    expect(event).toMatchObject({
      environment: 'e2e',
      server_name: 'conveyor-worker',
      tags: {
        'task.id': task.id,
        'task.type': 'system.sleep',
        'task.queue': 'system',
        'task.attempt': '2',
        'task.code': 'SLEEP_PLANNED_FAILURE',
        tenant: 'default',
      },
      contexts: { task: { taskId: task.id, type: 'system.sleep', attempt: 2, tenantId: 'default', code: 'SLEEP_PLANNED_FAILURE' } },
      exception: { values: [expect.objectContaining({ type: 'TaskFailure', value: 'planned failure of attempt 2' })] },
    });
    expect(event.contexts!.task).not.toHaveProperty('payload');
    expect(JSON.stringify(event)).not.toContain('4321');
    // One report: the first attempt was retried, not final.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(events().filter((e) => e.tags?.['task.id'] === task.id)).toHaveLength(1);
  });

  it("reports the API's 5xx answers with the request id", async () => {
    const task = (await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} })).body;
    const client = new Client({ connectionString: stack.database.url });
    await client.connect();
    try {
      // A table gone under the API: an error no code path expects.
      await client.query('ALTER TABLE task_logs RENAME TO task_logs_away');
      const response = await http(stack.apiUrl, 'GET', `/v1/tasks/${task.id}/logs`);
      expect(response.status).toBe(500);
      const event = await waitFor(async () => events().find((e) => e.tags?.request_id === response.body.error.requestId), {
        timeoutMs: 20_000,
        what: 'the 5xx report',
      });
      expect(event).toMatchObject({ server_name: 'conveyor-api', tags: { route: '/v1/tasks/:id/logs', method: 'GET' } });
      expect(event.exception!.values[0].value).toMatch(/task_logs/);
    } finally {
      await client.query('ALTER TABLE task_logs_away RENAME TO task_logs');
      await client.end();
    }
  });

  it('reports an error nothing catches in each app, which then ends as Node would', async () => {
    for (const [name, entry, service] of [
      ['api', APP_ENTRY.api, 'conveyor-api'],
      ['worker', APP_ENTRY.worker, 'conveyor-worker'],
    ] as const) {
      const app = startProcess(entry, {
        ...stack.env,
        PORT: String(await freePort()),
        WORKER_HEALTH_PORT: String(await freePort()),
        SENTRY_DSN: dsn,
        CONVEYOR_FAILPOINTS: 'uncaught-after-error-reporting',
      });
      const exit = await Promise.race([app.exited, new Promise((resolve) => setTimeout(resolve, 30_000, 'still running'))]);
      if (exit === 'still running') await app.stop('SIGKILL');
      expect({ name, exit }).toEqual({ name, exit: { code: 1, signal: null } });
      const event = events().find((e) => e.server_name === service && e.exception?.values[0].value.includes('an error nothing catches'));
      expect({ name, mechanism: event?.exception?.values[0].mechanism }).toEqual({
        name,
        mechanism: expect.objectContaining({ type: 'auto.node.onuncaughtexception', handled: false }),
      });
    }
  });

  it('loads the SDK only with a DSN', async () => {
    const probe = { NODE_OPTIONS: `--require ${PROBE}` };
    const loaded = join(probeDir, 'loaded.json');
    const withDsn = startProcess(APP_ENTRY.api, { ...stack.env, PORT: String(await freePort()), SENTRY_PROBE_FILE: loaded, ...probe });
    const without = join(probeDir, 'without.json');
    const { SENTRY_DSN: _dsn, ...plain } = stack.env;
    const api = startProcess(APP_ENTRY.api, { ...plain, PORT: String(await freePort()), SENTRY_PROBE_FILE: without, ...probe });
    const worker = startProcess(APP_ENTRY.worker, { ...plain, WORKER_HEALTH_PORT: String(await freePort()), SENTRY_PROBE_FILE: `${without}.worker`, ...probe });
    try {
      await waitFor(async () => api.logs().some((line) => String(line.msg).startsWith('API listening')) || undefined, { timeoutMs: 30_000, what: 'the API' });
      await waitFor(async () => worker.logs().some((line) => line.msg === 'worker started') || undefined, { timeoutMs: 30_000, what: 'the worker' });
      await waitFor(async () => withDsn.logs().some((line) => String(line.msg).startsWith('API listening')) || undefined, {
        timeoutMs: 30_000,
        what: 'the API with a DSN',
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(sentryModules('loaded.json').length).toBeGreaterThan(0);
      expect(existsSync(without) && existsSync(`${without}.worker`)).toBe(true);
      expect(sentryModules('without.json')).toEqual([]);
      expect(sentryModules('without.json.worker')).toEqual([]);
    } finally {
      await Promise.all([api.stop(), worker.stop(), withDsn.stop()]);
    }
  });
});
