import { attemptsUsed } from '../retry-policy';

describe('attemptsUsed (what a re-queued task has spent)', () => {
  const interrupted = { code: 'INTERRUPTED', message: 'shutdown' };
  it.each([
    [0, 'a new queued task', { status: 'queued', attempts: 0, error: null }],
    [0, 'a scheduled task', { status: 'scheduled', attempts: 0, error: null }],
    [0, 'a task running attempt 1', { status: 'active', attempts: 1, error: null }],
    [2, 'a task running attempt 3', { status: 'active', attempts: 3, error: null }],
    [1, 'a task released by a shutdown during attempt 2', { status: 'queued', attempts: 2, error: interrupted }],
    [1, 'a task whose attempt 1 failed', { status: 'retrying', attempts: 1, error: { code: 'X', message: 'x' } }],
    [3, 'a failed task retried by hand after 3 attempts', { status: 'queued', attempts: 3, error: null }],
  ] as const)('%i attempts used by %s', (used, _what, row) => {
    expect(attemptsUsed(row)).toBe(used);
  });
});
