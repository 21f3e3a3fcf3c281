import { Queue } from 'bullmq';
import { deleteRedisPrefix, TEST_REDIS_URL, uniqueName } from '@conveyor/testing';
import { nextJobWaitSeconds } from '../src/api/queue-gauges';

/**
 * `conveyor_queue_oldest_waiting_seconds` on a real BullMQ queue: the age of the job a worker
 * would take next, counted from when it could run; delayed jobs do not count until due.
 */
describe('next job wait (queue gauge)', () => {
  const prefix = uniqueName('gauges');
  let queue: Queue;

  beforeAll(() => {
    queue = new Queue('gauged', { connection: { url: TEST_REDIS_URL }, prefix });
  });

  afterAll(async () => {
    await queue.close();
    await deleteRedisPrefix(prefix);
  });

  it('is 0 when nothing waits, and a delayed job does not count before it is due', async () => {
    expect(await nextJobWaitSeconds(queue)).toBe(0);
    await queue.add('later', {}, { delay: 600_000 });
    expect(await nextJobWaitSeconds(queue)).toBe(0);
  });

  it('is the age of the oldest plain job or the head of the prioritized set, whichever waited longer', async () => {
    const now = Date.now();
    const oldest = await queue.add('plain', {}, { timestamp: now - 60_000 });
    await queue.add('plain', {}, { timestamp: now - 5_000 });
    const urgent = await queue.add('urgent', {}, { priority: 1, timestamp: now - 20_000 });
    expect(await nextJobWaitSeconds(queue, now)).toBeCloseTo(60, 1);
    await oldest.remove();
    expect(await nextJobWaitSeconds(queue, now)).toBeCloseTo(20, 1);
    await urgent.remove();
    expect(await nextJobWaitSeconds(queue, now)).toBeCloseTo(5, 1);
  });
});
