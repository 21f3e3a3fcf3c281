import type { MissedPolicy, OverlapPolicy } from '../schedule-policy';

export interface TickPlan {
  /** Ticks to create tasks for, oldest first. */
  fire: number[];
  /** Missed ticks the policy runs / drops (for metrics and logs). */
  missedRun: number;
  missedDropped: number;
}

/**
 * Which due ticks to fire, by the missed policy. A tick is on time when it is at most `graceMs`
 * old; older ones were missed (no scheduler ran). On-time ticks always fire; of the missed ones
 * `skip` fires none, `run-once` the latest (only when no on-time tick stands for them), and
 * `catch-up` the latest `catchUpLimit`, oldest first.
 */
export function planTicks(due: number[], now: number, graceMs: number, policy: MissedPolicy, catchUpLimit: number): TickPlan {
  const missed = due.filter((tick) => now - tick > graceMs);
  const onTime = due.filter((tick) => now - tick <= graceMs);
  let run: number[] = [];
  if (policy === 'run-once' && onTime.length === 0) run = missed.slice(-1);
  if (policy === 'catch-up') run = missed.slice(-catchUpLimit);
  return { fire: [...run, ...onTime], missedRun: run.length, missedDropped: missed.length - run.length };
}

/**
 * How many of `planned` ticks the overlap policy lets through, given the schedule's unfinished
 * tasks: `allow` all; `skip` one, and only when nothing is unfinished; `queue-one` one, and only
 * when no run is waiting (a running one may go on). The latest ticks are kept.
 */
export function overlapRoom(policy: OverlapPolicy, planned: number, backlog: { running: number; waiting: number }): number {
  if (policy === 'allow') return planned;
  if (policy === 'skip') return backlog.running + backlog.waiting === 0 ? Math.min(1, planned) : 0;
  return backlog.waiting === 0 ? Math.min(1, planned) : 0;
}
