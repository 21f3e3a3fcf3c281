import { http, startStack, TEST_ADMIN_KEY, type Stack } from './support/stack';

/**
 * A stop signal to the API while clients hold event streams open: the streams end (clients
 * reconnect elsewhere with Last-Event-ID) and the process exits at once, instead of waiting
 * until every watched task ends (a `pm2 reload` or a rolling deploy would hang on it).
 */
describe('API stopped with open event streams', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { SHUTDOWN_GRACE_MS: '30000' } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('ends the streams and exits cleanly on SIGTERM, long before their tasks end', async () => {
    const tasks = await Promise.all(
      Array.from({ length: 3 }, async () => (await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {}, delayMs: 600_000 })).body),
    );
    const streams = await Promise.all(
      tasks.map(async (task) => {
        const response = await fetch(`${stack.apiUrl}/v1/tasks/${task.id}/events`, { headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } });
        const reader = response.body!.getReader();
        await reader.read(); // the first status event: the stream is open
        return reader;
      }),
    );
    // The streams' tasks wait 10 minutes: only ending the streams lets the server close (a
    // process still there after 20 s is killed, which shows as SIGKILL).
    expect(await stack.api!.stop('SIGTERM', 20_000)).toEqual({ code: null, signal: 'SIGTERM' });
    for (const reader of streams) {
      let done = false;
      while (!done) done = (await reader.read().catch(() => ({ done: true }))).done;
      expect(done).toBe(true);
    }
  });
});
