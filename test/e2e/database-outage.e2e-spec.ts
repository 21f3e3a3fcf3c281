import { startPrivateMariaDb, startPrivatePostgres, waitFor, type PrivateDatabaseServer } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack } from './support/stack';

/** Bound on any answer while the database is away: connect 1 s + statement 1 s + grace 1 s, with slack. */
const ANSWER_WITHIN_MS = 8000;

/**
 * The ledger database goes away (stopped) or stops answering (every server process frozen
 * with SIGSTOP), on a private PostgreSQL or MariaDB server. Requests get a quick 503
 * DATABASE_UNAVAILABLE with Retry-After instead of a 500 or a hang, and an enqueue refused
 * while the database was frozen is never stored later, so it never runs: its INSERT ran in a
 * transaction whose connection was dropped before COMMIT.
 */
const SERVERS = { postgres: startPrivatePostgres, mariadb: startPrivateMariaDb };

describe.each(Object.keys(SERVERS) as Array<keyof typeof SERVERS>)('database outage (%s)', (kind) => {
  let db: PrivateDatabaseServer;
  let stack: Stack;
  const timed = async (call: () => Promise<{ status: number; headers: Headers; body: any }>) => {
    const started = Date.now();
    const response = await call();
    return { ...response, ms: Date.now() - started };
  };

  beforeAll(async () => {
    db = await SERVERS[kind]();
    stack = await startStack({
      env: {
        DATABASE_URL: db?.url,
        DB_CONNECT_TIMEOUT_MS: '1000',
        DB_STATEMENT_TIMEOUT_MS: '1000',
        // The reconciler looks often and at young rows: a row stored behind the client's back
        // would be found and run within the test.
        RECONCILE_INTERVAL_MS: '1000',
        RECONCILE_MIN_AGE_MS: '10000',
      },
    });
  });

  afterAll(async () => {
    db?.resume();
    await stack?.stop();
    await db?.destroy();
  });

  it('answers 503 DATABASE_UNAVAILABLE with Retry-After while the database is down, and recovers', async () => {
    const before = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} });
    expect(before.status).toBe(202);
    await waitForTerminal(stack.apiUrl, before.body.id);

    await db?.stop();
    try {
      const read = await timed(() => http(stack.apiUrl, 'GET', `/v1/tasks/${before.body.id}`));
      const list = await timed(() => http(stack.apiUrl, 'GET', '/v1/tasks'));
      const write = await timed(() => http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {}, tags: ['while-down'] }));
      for (const response of [read, list, write]) {
        expect({ status: response.status, code: response.body.error?.code, retryAfter: response.headers.get('retry-after') }).toEqual({
          status: 503,
          code: 'DATABASE_UNAVAILABLE',
          retryAfter: expect.stringMatching(/^\d+$/),
        });
        expect(response.ms).toBeLessThan(ANSWER_WITHIN_MS);
      }
    } finally {
      await db?.start();
    }
    await waitFor(async () => (await http(stack.apiUrl, 'GET', `/v1/tasks/${before.body.id}`)).status === 200, {
      timeoutMs: 20_000,
      what: 'the API to read the ledger again',
    });
    expect((await http(stack.apiUrl, 'GET', '/v1/tasks?tag=while-down')).body.tasks).toEqual([]);
  });

  it('answers promptly while the database is frozen, and what it refused is never stored or run afterwards', async () => {
    db?.pause();
    let responses: Array<{ status: number; body: any; ms: number }>;
    try {
      responses = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          timed(() =>
            http(
              stack.apiUrl,
              'POST',
              '/v1/tasks',
              { type: 'system.noop', payload: {}, tags: ['while-frozen'] },
              i % 2 ? { 'idempotency-key': `frozen-${i}` } : {},
            ),
          ),
        ),
      );
      responses.push(await timed(() => http(stack.apiUrl, 'GET', '/v1/tasks?tag=while-frozen')));
    } finally {
      db?.resume();
    }
    for (const response of responses) {
      expect({ status: response.status, code: response.body.error?.code }).toEqual({ status: 503, code: 'DATABASE_UNAVAILABLE' });
      expect(response.ms).toBeLessThan(ANSWER_WITHIN_MS);
    }

    // Thawed: whatever the frozen server had received runs now. Nothing may come of it, even
    // after the reconciler has had several chances to pick a stray row up.
    await waitFor(async () => (await http(stack.apiUrl, 'GET', '/v1/tasks?tag=while-frozen')).status === 200, {
      timeoutMs: 20_000,
      what: 'the API to read the ledger again',
    });
    await new Promise((resolve) => setTimeout(resolve, 13_000));
    expect((await http(stack.apiUrl, 'GET', '/v1/tasks?tag=while-frozen')).body.tasks).toEqual([]);
    const accepted = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} }, { 'idempotency-key': 'frozen-1' });
    expect(accepted.status).toBe(202);
    expect((await waitForTerminal(stack.apiUrl, accepted.body.id)).status).toBe('completed');
  });
});
