import type { AppConfig } from '@conveyor/config';
import { ApiError } from '@conveyor/http';
import type { TaskLedgerService } from '../ledger/task-ledger.service';
import type { TaskEntity } from '../ledger/task.entity';
import { STREAM_POLL_MS, TaskEventStreams } from './task-event-streams.service';

function streams(limits: { streamsPerKey: number; streamsPerProcess: number }, findOne = jest.fn(async () => ({ id: 't' }) as TaskEntity | null)) {
  const config = { limits } as unknown as AppConfig;
  return { streams: new TaskEventStreams(config, { findOne } as unknown as TaskLedgerService), findOne };
}

const refusal = (call: () => unknown) => {
  try {
    call();
  } catch (error) {
    return error as ApiError;
  }
  throw new Error('not refused');
};

describe('TaskEventStreams.reserve', () => {
  it('caps open streams per key with 429 TOO_MANY_STREAMS and Retry-After, and frees a slot once per release', () => {
    const { streams: s } = streams({ streamsPerKey: 2, streamsPerProcess: 10 });
    const first = s.reserve('a');
    s.reserve('a');
    const refused = refusal(() => s.reserve('a'));
    expect(refused.getStatus()).toBe(429);
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

  it('reads the ledger once per poll for all watchers of one task, and stops when the last leaves', async () => {
    const { streams: s, findOne } = streams({ streamsPerKey: 5, streamsPerProcess: 5 });
    const seen: unknown[] = [];
    const stopA = s.watch('ten', 't', (row) => seen.push(['a', row]));
    const stopB = s.watch('ten', 't', (row) => seen.push(['b', row]));
    const stopOther = s.watch('ten', 'u', () => undefined);
    await jest.advanceTimersByTimeAsync(STREAM_POLL_MS);
    expect(findOne.mock.calls).toEqual([
      ['ten', 't'],
      ['ten', 'u'],
    ]);
    expect(seen).toEqual([
      ['a', { id: 't' }],
      ['b', { id: 't' }],
    ]);
    stopA();
    await jest.advanceTimersByTimeAsync(STREAM_POLL_MS);
    expect(findOne).toHaveBeenCalledTimes(4);
    stopB();
    stopOther();
    await jest.advanceTimersByTimeAsync(STREAM_POLL_MS * 4);
    expect(findOne).toHaveBeenCalledTimes(4);
  });

  it('passes a failed read on as undefined and keeps polling', async () => {
    const findOne = jest.fn().mockRejectedValueOnce(new Error('db down')).mockResolvedValue(null);
    const { streams: s } = streams({ streamsPerKey: 5, streamsPerProcess: 5 }, findOne);
    const seen: unknown[] = [];
    s.watch('ten', 't', (row) => seen.push(row));
    await jest.advanceTimersByTimeAsync(STREAM_POLL_MS * 2);
    expect(seen).toEqual([undefined, null]);
    s.onModuleDestroy();
  });
});
