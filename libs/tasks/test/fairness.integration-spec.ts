import { Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { AppConfig } from '@conveyor/config';
import { deleteRedisPrefix, TEST_REDIS_URL, uniqueName, waitFor } from '@conveyor/testing';
import { decodeFairPriority, FAIRNESS_KEYS, FairOrdering, LEVEL_SPAN, REBASE_AFTER, type TaskJob, type TaskJobData } from '@conveyor/tasks';
import { TenantSlots } from '@conveyor/tasks/worker';

function config(overrides: Partial<AppConfig['fairness']> = {}, lockDurationMs = 30_000): AppConfig {
  return {
    queuePrefix: 'unused',
    worker: { lockDurationMs },
    fairness: { enabled: true, tenantConcurrencyDefault: 0, borrow: false, deferMs: 100, ...overrides },
  } as AppConfig;
}

function job(tenantId: string, priority = 5): TaskJob {
  return { name: 'spec.task', data: { tenantId, payload: {}, timeoutMs: 1000 }, opts: { jobId: `${tenantId}-${uniqueName('j')}`, priority } };
}

/** The waiting jobs' tenants (job ids start with the tenant), in the order BullMQ will hand them out. */
async function waitingOrder(queue: Queue): Promise<string[]> {
  const jobs = await queue.getJobs(['prioritized'], 0, -1, true);
  return jobs.map((j) => j.id!.split('-')[0]);
}

/**
 * The fairness layer on the shared Redis: the ordering script (start-time fair queuing in
 * BullMQ's prioritized set, with the band renumbered before it runs out) and the tenant slots
 * (caps with leases) under a real BullMQ Worker.
 */
describe('fairness on real Redis', () => {
  const prefix = uniqueName('fair');
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });

  afterAll(async () => {
    await redis.quit();
    await deleteRedisPrefix(prefix);
  });

  async function addFair(queue: Queue, ordering: FairOrdering, jobs: TaskJob[]): Promise<TaskJob[]> {
    const ordered = await ordering.order(queue, jobs);
    await queue.addBulk(ordered);
    return ordered;
  }

  it("puts a newcomer's tasks next to the front of a flood, one to one, and keeps priorities strict", async () => {
    const queue = new Queue(uniqueName('q'), { connection: { url: TEST_REDIS_URL }, prefix });
    const ordering = new FairOrdering(config());
    try {
      for (let i = 0; i < 5; i++)
        await addFair(
          queue,
          ordering,
          Array.from({ length: 200 }, () => job('aaa')),
        );
      await addFair(
        queue,
        ordering,
        Array.from({ length: 10 }, () => job('bbb')),
      );
      await addFair(queue, ordering, [job('ccc', 9), job('aaa', 1)]);
      const order = await waitingOrder(queue);
      expect(order).toHaveLength(1012);
      // Priority 1 first, whoever floods; then B's ten one to one with A's next ones (A's head,
      // which set the virtual time, and then A, B, A, B …).
      expect(order[0]).toBe('aaa');
      expect(order.slice(1, 23)).toEqual(['aaa', ...Array.from({ length: 10 }, () => ['aaa', 'bbb']).flat(), 'aaa']);
      expect(order.slice(23, 1011).every((t) => t === 'aaa')).toBe(true);
      // Priority 9 after everything at 5, flood or not.
      expect(order[1011]).toBe('ccc');
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('renumbers a level before its band runs out, keeping the order and the job hashes in step', async () => {
    const queue = new Queue(uniqueName('q'), { connection: { url: TEST_REDIS_URL }, prefix });
    const ordering = new FairOrdering(config());
    try {
      // Virtual time just short of the renumbering point, with a flood of A waiting beyond it.
      await redis.hset(queue.toKey(FAIRNESS_KEYS.state), 'v:5', REBASE_AFTER - 5, 'top:5', REBASE_AFTER - 5);
      const first = await addFair(
        queue,
        ordering,
        Array.from({ length: 50 }, () => job('aaa')),
      );
      expect(decodeFairPriority(first[49].opts.priority!)).toEqual({ priority: 5, offset: REBASE_AFTER + 45 });
      // A's first 20 ran: the head of the level, and so V, moves past the point, and the
      // next add renumbers the level.
      await Promise.all(first.slice(0, 20).map((j) => queue.remove(j.opts.jobId!)));
      const [late] = await addFair(queue, ordering, [job('bbb')]);
      const state = await redis.hgetall(queue.toKey(FAIRNESS_KEYS.state));
      expect(Number(state['base:5'])).toBe(REBASE_AFTER + 15);
      expect(decodeFairPriority(late.opts.priority!)).toEqual({ priority: 5, offset: 2 });

      const waiting = await queue.getJobs(['prioritized'], 0, -1, true);
      const scores = await redis.zrange(queue.keys.prioritized, 0, -1, 'WITHSCORES');
      for (let i = 0; i < scores.length; i += 2) {
        const prio = Math.floor(Number(scores[i + 1]) / 2 ** 32);
        // The hash BullMQ re-reads (retry, move back to wait) says the same as the score.
        expect(Number(await redis.hget(queue.toKey(scores[i]), 'priority'))).toBe(prio);
        expect(prio).toBeLessThan(5 * LEVEL_SPAN);
      }
      // A's flood keeps its order, far inside the band now, and B's newcomer is third: after
      // A's head and next to A's second, as before the renumbering.
      const ids = waiting.map((j) => j.id);
      expect(ids.filter((id) => id !== late.opts.jobId)).toEqual(first.slice(20).map((j) => j.opts.jobId));
      expect(ids.indexOf(late.opts.jobId)).toBe(2);
      expect(waiting.map((j) => decodeFairPriority(j.priority).offset)).toEqual([1, 2, 2, ...Array.from({ length: 28 }, (_, i) => i + 3)]);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  /** Runs the jobs on a real Worker whose processor takes tenant slots; the peak of each tenant's running jobs. */
  async function runCapped(jobs: TaskJob[], fairness: Partial<AppConfig['fairness']>) {
    const queueName = uniqueName('q');
    const queue = new Queue(queueName, { connection: { url: TEST_REDIS_URL }, prefix });
    const slots = new TenantSlots(config(fairness));
    const running = new Map<string, number>();
    const peak = new Map<string, number>();
    const worker = new Worker<TaskJobData>(
      queueName,
      async (j: Job<TaskJobData>, token) => {
        const slot = await slots.admit(worker, j, token);
        const tenant = j.data.tenantId;
        try {
          running.set(tenant, (running.get(tenant) ?? 0) + 1);
          peak.set(tenant, Math.max(peak.get(tenant) ?? 0, running.get(tenant)!));
          await new Promise((resolve) => setTimeout(resolve, 150));
        } finally {
          running.set(tenant, running.get(tenant)! - 1);
          slot.release();
        }
      },
      { connection: { url: TEST_REDIS_URL }, prefix, concurrency: 5 },
    );
    try {
      await addFair(queue, new FairOrdering(config()), jobs);
      await waitFor(async () => ((await queue.getJobCountByTypes('completed')) === jobs.length ? true : undefined), {
        what: 'all jobs done',
        timeoutMs: 30_000,
      });
      const done = await queue.getJobs(['completed']);
      const leftRunning = await redis.zcard(queue.toKey(FAIRNESS_KEYS.running + 'aaa'));
      return { peak, done, leftRunning };
    } finally {
      await worker.close();
      slots.onModuleDestroy();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  }

  it('caps a tenant across worker slots: the job over the cap is deferred without using an attempt', async () => {
    const { peak, done, leftRunning } = await runCapped([...Array.from({ length: 8 }, () => job('aaa')), ...Array.from({ length: 3 }, () => job('bbb'))], {
      tenantConcurrencyDefault: 2,
    });
    expect(peak.get('aaa')).toBe(2);
    expect(peak.get('bbb')).toBeGreaterThanOrEqual(1);
    // Deferrals were not starts: every job ran once, with one start and one attempt.
    expect(done.map((j) => [j.attemptsStarted, j.attemptsMade])).toEqual(done.map(() => [1, 1]));
    expect(leftRunning).toBe(0);
  });

  it('lets a tenant alone at the front borrow the spare slots over its cap when borrowing is on', async () => {
    const deferrals = jest.spyOn(Job.prototype, 'moveToDelayed');
    const { peak, done } = await runCapped(
      Array.from({ length: 30 }, () => job('aaa')),
      { tenantConcurrencyDefault: 2, borrow: true },
    );
    expect(peak.get('aaa')).toBeGreaterThan(2);
    expect(done).toHaveLength(30);
    // Alone, nothing is ever deferred.
    expect(deferrals).not.toHaveBeenCalled();
    deferrals.mockRestore();
  });

  it("frees a dead worker's slots when their lease lapses, and counts a job taken over only once", async () => {
    const queue = new Queue(uniqueName('q'), { connection: { url: TEST_REDIS_URL }, prefix });
    const key = queue.toKey(FAIRNESS_KEYS.running + 'aaa');
    try {
      await redis.hset(queue.toKey(FAIRNESS_KEYS.caps), 'aaa', 1);
      const slots = new TenantSlots(config({}, 400));
      const fake = (id: string) => ({ id, data: { tenantId: 'aaa' }, moveToDelayed: jest.fn() }) as unknown as Job<TaskJobData>;
      await slots.admit(queue, fake('one'), 'token');
      // Taken over after a crash: the same job gets its slot again, not a second one.
      await slots.admit(queue, fake('one'), 'token');
      expect(await redis.zcard(key)).toBe(1);
      const blocked = fake('two');
      await expect(slots.admit(queue, blocked, 'token')).rejects.toMatchObject({ name: 'DelayedError' });
      expect(blocked.moveToDelayed).toHaveBeenCalledTimes(1);
      // The holder dies: its renewals stop and it never releases; the lease lapses.
      slots.onModuleDestroy();
      const survivor = new TenantSlots(config({}, 400));
      await new Promise((resolve) => setTimeout(resolve, 500));
      const taken = await survivor.admit(queue, fake('two'), 'token');
      expect(await redis.zrange(key, 0, -1)).toEqual(['two']);
      taken.release();
      await waitFor(async () => ((await redis.zcard(key)) === 0 ? true : undefined), { what: 'the slot released' });
      survivor.onModuleDestroy();
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
