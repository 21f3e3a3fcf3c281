import { APP_ENTRY, freePort, startPrivateRedis, startProcess, waitFor, waitUntilReady, type PrivateRedis } from '@conveyor/testing';
import { startStack, type Stack } from './support/stack';

/** Apps started before their dependencies wait for them (bounded), instead of crash-looping. */
describe('start-up before the dependencies are up', () => {
  let stack: Stack;
  let redis: PrivateRedis;

  beforeAll(async () => {
    stack = await startStack({ api: false, worker: false });
    redis = await startPrivateRedis();
    await redis.stop();
  });

  afterAll(async () => {
    await redis?.stop();
    await stack?.stop();
  });

  it('API and worker wait for Redis, logging what they wait for, and become ready once it is up', async () => {
    const [apiPort, workerPort] = [await freePort(), await freePort()];
    const env = { ...stack.env, REDIS_URL: redis.url, STARTUP_TIMEOUT_MS: '30000' };
    const api = startProcess(APP_ENTRY.api, { ...env, PORT: String(apiPort) });
    const worker = startProcess(APP_ENTRY.worker, { ...env, WORKER_HEALTH_PORT: String(workerPort) });
    try {
      await waitFor(() => api.logs().some((l) => l.msg === 'waiting for redis') && worker.logs().some((l) => l.msg === 'waiting for redis'), {
        what: 'both apps to log that they wait for redis',
      });
      expect(api.child.exitCode).toBeNull();
      expect(await fetch(`http://127.0.0.1:${apiPort}/health/ready`).catch(() => undefined)).toBeUndefined();
      await redis.start();
      await waitUntilReady(api, `http://127.0.0.1:${apiPort}/health/ready`);
      await waitUntilReady(worker, `http://127.0.0.1:${workerPort}/health/ready`);
      expect(api.logs().some((l) => l.msg === 'redis is reachable')).toBe(true);
    } finally {
      await Promise.all([api.stop(), worker.stop()]);
    }
  });

  it('gives up after STARTUP_TIMEOUT_MS with a clear message', async () => {
    await redis.stop();
    const api = startProcess(APP_ENTRY.api, { ...stack.env, REDIS_URL: redis.url, STARTUP_TIMEOUT_MS: '1500', PORT: String(await freePort()) });
    const { code } = await api.exited;
    expect(code).toBe(1);
    expect(api.output()).toMatch(/redis did not answer within STARTUP_TIMEOUT_MS \(1500 ms\)/);
  });
});
