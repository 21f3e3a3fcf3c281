import { DataSource } from 'typeorm';
import { DIALECTS, freePort, startProcess, APP_ENTRY, TestReceiver, uniqueName, waitFor, waitUntilReady } from '@conveyor/testing';
import { http, startStack, type Stack, localWebhookEnv } from './support/stack';

const PINGS = 300;
const ENDPOINTS = 5;

/**
 * Deliveries under kill -9 of the worker in full flow (kept-alive connections, slots handed
 * over, outcomes written in group commits): the worker dies with requests in flight and
 * outcomes not yet committed; another worker takes its jobs over once their locks lapse (same
 * claim). Every event reaches the receiver, every delivery ends succeeded with exactly one
 * attempt in its log (an attempt whose outcome died with the worker left nothing half
 * written and was made again), and no delivery stays pending. On both dialects: their claims
 * and outcome writes are different statements.
 */
describe.each(DIALECTS)('webhook deliveries when the worker is killed (%s)', (dialect) => {
  let stack: Stack;
  let receiver: TestReceiver;
  let db: DataSource;

  beforeAll(async () => {
    // A little latency, so that requests are in flight when the worker dies.
    receiver = await new TestReceiver((_n, _req, res) => void setTimeout(() => res.writeHead(200).end(), 20)).start();
    stack = await startStack({
      dialect,
      worker: false,
      env: {
        ...localWebhookEnv(),
        WORKER_LOCK_DURATION_MS: '2000',
        WORKER_STALLED_INTERVAL_MS: '1000',
        // The dead worker's endpoint slots lapse after this plus 30 s: the survivor waits that out.
        WEBHOOK_TIMEOUT_MS: '5000',
      },
    });
    db = await new DataSource({ type: dialect, url: stack.database.url }).initialize();
  });

  afterAll(async () => {
    await db?.destroy();
    await stack?.stop();
    await receiver?.stop();
  });

  it('loses no delivery and leaves one attempt per delivery in the log', async () => {
    const call = (method: string, path: string, body?: unknown) => http(stack.apiUrl, method, path, body);
    const endpoints: string[] = [];
    for (let i = 0; i < ENDPOINTS; i++)
      endpoints.push((await call('POST', '/v1/webhooks/endpoints', { url: receiver.url(`/e/${i}`), events: ['task.*'] })).body.id);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const events: string[] = [];
    await Promise.all(
      Array.from({ length: 10 }, async (_, lane) => {
        for (let i = lane; i < PINGS; i += 10) events.push((await call('POST', `/v1/webhooks/endpoints/${endpoints[i % ENDPOINTS]}/test`)).body.eventId);
      }),
    );

    const port = await freePort();
    const victim = startProcess(APP_ENTRY.worker, { ...stack.env, WORKER_ID: uniqueName('victim'), WORKER_HEALTH_PORT: String(port) });
    await waitUntilReady(victim, `http://127.0.0.1:${port}/health/ready`);
    await waitFor(() => receiver.received.length >= PINGS / 5, { what: 'a fifth of the deliveries' });
    victim.child.kill('SIGKILL');
    expect((await victim.exited).signal).toBe('SIGKILL');
    const cutAt = receiver.received.length;
    expect(cutAt).toBeLessThan(PINGS);

    const survivor = await stack.startWorker({ WORKER_ID: uniqueName('survivor') });
    try {
      await waitFor(
        async () => {
          const [{ n }] = await db.query<Array<{ n: string }>>(`SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status = 'succeeded'`);
          return Number(n) === PINGS;
        },
        // The slots the victim held (35 s), then the rest, on a loaded machine.
        { what: 'every delivery to succeed', timeoutMs: 120_000 },
      );
    } finally {
      await survivor.stop();
    }
    const received = new Set(receiver.received.map((r) => String(r.headers['webhook-id'])));
    expect(events.filter((id) => !received.has(id))).toEqual([]);
    const log = await db.query<Array<{ attempts: number; logged: string }>>(
      `SELECT d.attempts, (SELECT COUNT(*) FROM webhook_attempts a WHERE a.delivery_id = d.id) AS logged FROM webhook_deliveries d`,
    );
    expect(log).toHaveLength(PINGS);
    expect(log.filter((row) => Number(row.attempts) !== 1 || Number(row.logged) !== 1)).toEqual([]);
    // Sent again only what the dead worker had in flight (at least once, same webhook-id).
    expect(receiver.received.length - PINGS).toBeLessThanOrEqual(50);
  }, 240_000);
});
