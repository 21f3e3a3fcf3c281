import type { AppConfig } from '@conveyor/config';
import { DomainError } from '@conveyor/errors';
import type { TaskMetrics } from '@conveyor/observability';
import type { TaskLedgerService } from '../ledger/task-ledger.service';
import type { TaskEntity } from '../ledger/task.entity';
import type { TaskChangeFeed } from '../task-change-feed';
import { STREAM_SAFETY_POLL_MS, TaskEventStreams } from './task-event-streams.service';

/** A feed that hands its subscriber to the test: `announce(ids)` plays a published change, `resync()` a reconnect. */
function fakeFeed() {
  const feed = { announce: (_ids: string[]) => undefined as void, resync: () => undefined as void };
  const subscribe = async (changed: (ids: string[]) => void, resync: () => void) => {
    feed.announce = changed;
    feed.resync = resync;
  };
  return { feed, service: { subscribe } as unknown as TaskChangeFeed };
}

/** A row as the ledger returns it; `version` is its updated_at. */
const row = (id: string, version = 1) => ({ id, updatedAt: new Date(version) }) as TaskEntity;

function streams(limits: { streamsPerKey: number; streamsPerProcess: number }, findOne = jest.fn(async () => row('t') as TaskEntity | null)) {
  const config = { limits } as unknown as AppConfig;
  const { feed, service } = fakeFeed();
  const findMany = jest.fn(async (_tenant: string, ids: string[]) => ids.map((id) => row(id)));
  return {
    streams: new TaskEventStreams(config, { findOne, findMany } as unknown as TaskLedgerService, service, {
      eventStreamRead: jest.fn(),
    } as unknown as TaskMetrics),
    findOne,
    findMany,
    feed,
  };
}

const refusal = (call: () => unknown) => {
  try {
    call();
  } catch (error) {
    return error as DomainError;
  }
  throw new Error('not refused');
};

describe('TaskEventStreams.reserve', () => {
  it('caps open streams per key with 429 TOO_MANY_STREAMS and Retry-After, and frees a slot once per release', () => {
    const { streams: s } = streams({ streamsPerKey: 2, streamsPerProcess: 10 });
    const first = s.reserve('a');
    s.reserve('a');
    const refused = refusal(() => s.reserve('a'));
    expect(refused.kind).toBe('rate_limited');
    expect(refused.code).toBe('TOO_MANY_STREAMS');
    expect(refused.retryAfterSeconds).toBeGreaterThan(0);
    expect(s.count('b')).toBe(0);
    s.reserve('b');
    first();
    first();
    expect(s.count('a')).toBe(1);
    expect(s.count()).toBe(2);
    s.reserve('a');
    expect(refusal(() => s.reserve('a')).code).toBe('TOO_MANY_STREAMS');
  });

  it('caps open streams per process across keys', () => {
    const { streams: s } = streams({ streamsPerKey: 5, streamsPerProcess: 3 });
    const releases = [s.reserve('a'), s.reserve('b'), s.reserve('c')];
    expect(refusal(() => s.reserve('d')).message).toMatch(/process/);
    releases[1]();
    expect(() => s.reserve('d')).not.toThrow();
  });
});

describe('TaskEventStreams.watch', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('reads a row once at the start and once per announced change, for all watchers of the task together', async () => {
    const { streams: s, findOne, feed } = streams({ streamsPerKey: 5, streamsPerProcess: 5 });
    await s.onModuleInit();
    const seen: unknown[] = [];
    const stopA = s.watch('ten', 't', (row) => seen.push(['a', row]));
    await jest.advanceTimersByTimeAsync(0);
    const stopB = s.watch('ten', 't', (row) => seen.push(['b', row]));
    const stopOther = s.watch('ten', 'u', () => undefined);
    await jest.advanceTimersByTimeAsync(0);
    expect(findOne).toHaveBeenCalledTimes(3);
    seen.length = 0;
    // Nothing changes: no reads, however long (short of the safety look).
    await jest.advanceTimersByTimeAsync(STREAM_SAFETY_POLL_MS - 1000);
    expect(findOne).toHaveBeenCalledTimes(3);
    // A change of t (and of a task nobody watches): one read, both watchers told.
    feed.announce(['t', 'nobody']);
    await jest.advanceTimersByTimeAsync(0);
    expect(findOne.mock.calls.slice(3)).toEqual([['ten', 't']]);
    expect(seen).toEqual([
      ['a', row('t')],
      ['b', row('t')],
    ]);
    stopA();
    stopB();
    stopOther();
    feed.announce(['t', 'u']);
    await jest.advanceTimersByTimeAsync(STREAM_SAFETY_POLL_MS * 2);
    expect(findOne).toHaveBeenCalledTimes(4);
    s.onModuleDestroy();
  });

  it('reads every watched row at the safety interval in one query per tenant, however many streams', async () => {
    const { streams: s, findOne, findMany } = streams({ streamsPerKey: 2000, streamsPerProcess: 2000 });
    await s.onModuleInit();
    const seen = new Map<string, number>();
    const ids = Array.from({ length: 600 }, (_, i) => `t${i}`);
    for (const id of ids) s.watch('ten', id, () => seen.set(id, (seen.get(id) ?? 0) + 1));
    s.watch('other', 'x', () => seen.set('x', (seen.get('x') ?? 0) + 1));
    await jest.advanceTimersByTimeAsync(0);
    const firstReads = findOne.mock.calls.length;
    await jest.advanceTimersByTimeAsync(STREAM_SAFETY_POLL_MS);
    // 601 streams: three queries (two batches of one tenant, one of the other), no single reads.
    expect(findMany.mock.calls.map(([tenant, batch]) => [tenant, batch.length])).toEqual([
      ['ten', 500],
      ['ten', 100],
      ['other', 1],
    ]);
    expect(findOne).toHaveBeenCalledTimes(firstReads);
    expect([...seen.values()].every((count) => count === 2)).toBe(true);
    expect(seen.size).toBe(601);
    s.onModuleDestroy();
  });

  it('drops a read older than the version it already handed on', async () => {
    const reads = [row('t', 5), row('t', 3), row('t', 7)];
    const findOne = jest.fn(async () => reads.shift()!);
    const { streams: s, feed } = streams({ streamsPerKey: 5, streamsPerProcess: 5 }, findOne);
    await s.onModuleInit();
    const seen: number[] = [];
    s.watch('ten', 't', (current) => seen.push(current!.updatedAt.getTime()));
    await jest.advanceTimersByTimeAsync(0);
    feed.announce(['t']);
    await jest.advanceTimersByTimeAsync(0);
    feed.announce(['t']);
    await jest.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([5, 7]);
    s.onModuleDestroy();
  });

  it('looks again after the safety interval, after a reconnect, and once more for a change during a read', async () => {
    let finish: (row: TaskEntity) => void = () => undefined;
    const findOne = jest.fn(() => new Promise<TaskEntity | null>((resolve) => (finish = resolve)));
    const { streams: s, feed, findMany } = streams({ streamsPerKey: 5, streamsPerProcess: 5 }, findOne);
    await s.onModuleInit();
    const seen: unknown[] = [];
    s.watch('ten', 't', (current) => seen.push(current?.id));
    // Two changes announced while the first read is under way: one more read, not two.
    feed.announce(['t']);
    feed.announce(['t']);
    finish(row('first', 1));
    await jest.advanceTimersByTimeAsync(0);
    expect(findOne).toHaveBeenCalledTimes(2);
    finish(row('second', 2));
    await jest.advanceTimersByTimeAsync(0);
    expect(seen).toEqual(['first', 'second']);
    await jest.advanceTimersByTimeAsync(STREAM_SAFETY_POLL_MS);
    expect(findMany).toHaveBeenCalledWith('ten', ['t']);
    feed.resync();
    expect(findOne).toHaveBeenCalledTimes(3);
    s.onModuleDestroy();
  });

  it('passes a failed read on as undefined and keeps watching', async () => {
    const findOne = jest.fn().mockRejectedValueOnce(new Error('db down')).mockResolvedValue(null);
    const { streams: s, feed } = streams({ streamsPerKey: 5, streamsPerProcess: 5 }, findOne);
    await s.onModuleInit();
    const seen: unknown[] = [];
    s.watch('ten', 't', (row) => seen.push(row));
    await jest.advanceTimersByTimeAsync(0);
    feed.announce(['t']);
    await jest.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([undefined, null]);
    s.onModuleDestroy();
  });
});
