import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { AppConfig } from '@conveyor/config';
import { redisConnectionOptions } from '@conveyor/queue';
import { startPrivateRedis, taskRow, uniqueName, waitFor, type PrivateRedis } from '@conveyor/testing';
import { FairOrdering, JobRelay, type PreparedTask, type RegisteredQueues } from '@conveyor/tasks';

/** A task bound for the `system` queue, with its job as the producer builds it (job id = task id). */
function prepared(): PreparedTask {
  const row = taskRow();
  return { row, job: { name: row.type, data: { tenantId: row.tenantId, payload: {}, timeoutMs: 1000 }, opts: { jobId: row.id, priority: 5 } } };
}

/**
 * JobRelay shares adds between concurrent callers (the jobs of callers that arrive while adds
 * are in flight go out in one addBulk) and still gives each caller the outcome Redis can have
 * produced for its own jobs. Runs on a private redis-server, which the tests stop and starve.
 */
describe('JobRelay on real Redis', () => {
  let redis: PrivateRedis;
  let queue: Queue;
  let relay: JobRelay;
  let plainRelay: JobRelay;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    const url = new URL(redis.url);
    const connection = redisConnectionOptions({ url: redis.url, host: url.hostname, port: Number(url.port), db: 0, tls: false }, 'producer');
    queue = new Queue('system', { connection, prefix: uniqueName('relay') });
    await queue.waitUntilReady();
    const moduleRef = { get: () => queue } as unknown as RegisteredQueues;
    const config = { queuePrefix: 'unused', fairness: { enabled: true, tenantConcurrencyDefault: 0, borrow: true, deferMs: 500 } } as AppConfig;
    relay = new JobRelay(moduleRef, config, new FairOrdering(config));
    const plain = { ...config, fairness: { ...config.fairness, enabled: false } };
    plainRelay = new JobRelay(moduleRef, plain, new FairOrdering(plain));
  });

  afterAll(async () => {
    await queue?.close().catch(() => undefined);
    await redis?.stop();
  });

  afterEach(() => jest.restoreAllMocks());

  it('sends a lone caller at once, and the jobs of callers arriving meanwhile together', async () => {
    const addBulk = jest.spyOn(queue, 'addBulk');
    const add = jest.spyOn(queue, 'add');
    const lone = prepared();
    expect(await relay.add([lone])).toEqual(['added']);
    expect({ add: add.mock.calls.length, addBulk: addBulk.mock.calls.length }).toEqual({ add: 1, addBulk: 0 });

    const callers = Array.from({ length: 20 }, () => [prepared()]);
    const outcomes = await Promise.all(callers.map((items) => relay.add(items)));
    expect(outcomes.flat()).toEqual(callers.map(() => 'added'));
    // Two adds go out at once; the callers that came while they were in flight share the next.
    expect(add.mock.calls.length + addBulk.mock.calls.length).toBeLessThan(1 + callers.length);
    expect(Math.max(...addBulk.mock.calls.map(([jobs]) => jobs.length))).toBeGreaterThan(1);
    for (const [item] of [[lone], ...callers]) expect(await queue.getJobState(item.row.id)).toBe('prioritized');
  });

  it('refuses every caller of a shared add Redis never got (no connection), and only them', async () => {
    await redis.stop();
    try {
      const outcomes = await Promise.all(Array.from({ length: 6 }, () => relay.add([prepared(), prepared()])));
      expect(outcomes.flat()).toEqual(Array.from({ length: 12 }, () => 'refused'));
    } finally {
      await redis.start();
    }
    // The producer connection comes back on its own, and adds go through again.
    await waitFor(async () => (await relay.add([prepared()]))[0] === 'added', { timeoutMs: 15_000, intervalMs: 200, what: 'adds to work again' });
  });

  it('answers unknown, not refused, when Redis answers a shared add with an error: part of it may have run', async () => {
    const admin = new Redis(redis.url);
    try {
      // Out of memory for writes: Redis refuses each add with an error answer.
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '1');
      // With fairness, the ordering script runs (and is refused) before any add: nothing exists.
      const ordered = await Promise.all(Array.from({ length: 4 }, () => relay.add([prepared()])));
      expect(ordered.flat()).toEqual(['refused', 'refused', 'refused', 'refused']);
      const alone = await plainRelay.add([prepared()]);
      const shared = await Promise.all(Array.from({ length: 8 }, () => plainRelay.add([prepared()])));
      // A job alone was refused before it ran: the caller may say "not accepted".
      expect(alone).toEqual(['refused']);
      // In a pipeline an error answers one command only, so no caller of one may be told "not added".
      expect(shared.flat()).toContain('unknown');
      expect(shared.flat()).not.toContain('added');
      const sharedCallers = shared.filter(([outcome]) => outcome === 'unknown').length;
      expect(sharedCallers).toBeGreaterThan(1);
    } finally {
      await admin.config('SET', 'maxmemory', '0');
      admin.disconnect();
    }
  });
});
