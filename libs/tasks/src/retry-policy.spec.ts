import { TaskFailure } from './contracts/task-failure';
import { defineTaskType } from './contracts/task-type';
import {
  afterFailure,
  attemptNumber,
  backoffDelay,
  initialMaxAttempts,
  maxAttemptsAfterManualRetry,
  retryBackoffStrategy,
  withRetryDelay,
} from './retry-policy';

const job = (attemptsMade: number, attempts: number, attemptOffset?: number) => ({
  attemptsMade,
  attemptsStarted: attemptsMade + 1,
  data: attemptOffset === undefined ? {} : { attemptOffset },
  opts: { attempts },
});
class EmptyPayload {}
const taskType = (type: string, queue: string, defaults?: { maxAttempts?: number }) =>
  defineTaskType({ type, queue, description: 'for tests', payload: EmptyPayload, defaults });
const exponential = { type: 'exponential' as const, delayMs: 1000, jitter: 0 };

describe('retry policy', () => {
  it('gives a new task the request’s attempts, else the type’s, else the configured default', () => {
    expect(initialMaxAttempts(7, taskType('a.b', 'q', { maxAttempts: 4 }), 3)).toBe(7);
    expect(initialMaxAttempts(undefined, taskType('a.b', 'q', { maxAttempts: 4 }), 3)).toBe(4);
    expect(initialMaxAttempts(undefined, taskType('a.b', 'q'), 3)).toBe(3);
  });

  it('gives a manually retried task its original allowance again on top of what it used', () => {
    expect(maxAttemptsAfterManualRetry({ attempts: 3, attemptBudget: 3 })).toBe(6);
  });

  it('counts attempts across manual retries and crashed runs', () => {
    expect(attemptNumber({ attemptsMade: 0, attemptsStarted: 0, data: {} })).toBe(1);
    expect(attemptNumber({ attemptsMade: 1, attemptsStarted: 3, data: { attemptOffset: 2 } })).toBe(5);
  });

  it('retries a plain error until the allowance is used, waiting the exponential backoff', () => {
    expect(afterFailure(new Error('boom'), job(0, 3), exponential)).toEqual({ final: false, retryable: true, delayMs: 1000 });
    expect(afterFailure(new Error('boom'), job(1, 3), exponential)).toEqual({ final: false, retryable: true, delayMs: 2000 });
    expect(afterFailure(new Error('boom'), job(2, 3), exponential)).toEqual({ final: true, retryable: true, delayMs: 0 });
  });

  it('counts a manual retry’s earlier attempts in the allowance, and restarts the backoff with the new job', () => {
    // created with 2 attempts, both failed, retried by hand: offset 2, two more
    expect(afterFailure(new Error('x'), job(0, 2, 2), exponential)).toEqual({ final: false, retryable: true, delayMs: 1000 });
    expect(afterFailure(new Error('x'), job(1, 2, 2), exponential).final).toBe(true);
  });

  it('ends at once on a non-retryable TaskFailure, and honours a TaskFailure’s retryAfterMs', () => {
    expect(afterFailure(new TaskFailure('BAD_INPUT', 'no', false), job(0, 5), exponential)).toEqual({ final: true, retryable: false, delayMs: 0 });
    expect(afterFailure(new TaskFailure('RATE_LIMITED', 'later', true, { retryAfterMs: 42_000 }), job(3, 5), exponential).delayMs).toBe(42_000);
  });

  it('spreads delays over the jitter share: fixed and exponential', () => {
    const policy = { type: 'fixed' as const, delayMs: 1000, jitter: 0.5 };
    expect(backoffDelay(policy, 4, () => 0)).toBe(500);
    expect(backoffDelay(policy, 4, () => 0.999)).toBe(999);
    expect(backoffDelay({ ...policy, type: 'exponential' }, 3, () => 0)).toBe(2000);
    expect(backoffDelay({ ...policy, type: 'exponential' }, 3, () => 0.999)).toBe(3998);
  });

  it('hands BullMQ the delay the runner decided, through the error it fails the job with', () => {
    expect(retryBackoffStrategy(1, 'conveyor', withRetryDelay(new Error('x'), 1234))).toBe(1234);
    expect(retryBackoffStrategy(1, 'conveyor', withRetryDelay('thrown string', 55))).toBe(55);
    expect(retryBackoffStrategy(1, 'conveyor', new Error('BullMQ failed it itself'))).toBe(0);
  });
});
