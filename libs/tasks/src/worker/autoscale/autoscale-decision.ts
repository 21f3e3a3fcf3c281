import type { AutoscaleConfig, ConcurrencyRange } from '@conveyor/config';

/** What the autoscaler saw of one queue over one interval. */
export interface AutoscaleSample {
  /** The concurrency the queue's BullMQ worker runs with now. */
  current: number;
  range: ConcurrencyRange;
  /** Jobs waiting in the queue (all workers'), ready to start. */
  waiting: number;
  /** Most tasks of the queue this process ran at once during the interval. */
  peakRunning: number;
  /** How long the queue has had nothing waiting and unused slots (0 when it has not). */
  idleForMs: number;
  /** p99 event-loop delay of the process over the interval. */
  eventLoopDelayMs: number;
  /** Process CPU over the interval, percent of one core. */
  cpuPercent: number;
}

export type AutoscaleReason = 'backlog' | 'overloaded' | 'idle' | 'range' | 'steady';

export interface AutoscaleDecision {
  concurrency: number;
  reason: AutoscaleReason;
}

/** A queue counts as busy when at least this share of its slots ran at once. */
export const BUSY_SHARE = 0.75;

/**
 * The next concurrency of one queue, from plain numbers (no clock, no Redis):
 *  1. outside its range (the range changed): back inside it;
 *  2. event loop or CPU over its limit: one step down (towards min), never up, whatever waits;
 *  3. jobs waiting and the slots busy: one step up (towards max);
 *  4. idle for `idleMs` (nothing waiting, slots unused): one step down, each interval it lasts;
 *  5. otherwise unchanged.
 * "Busy" needs BUSY_SHARE of the slots used: a paused or rate-limited queue has jobs waiting
 * and nothing running, and more slots would not help it.
 */
export function decideConcurrency(
  sample: AutoscaleSample,
  limits: Pick<AutoscaleConfig, 'step' | 'idleMs' | 'maxEventLoopDelayMs' | 'maxCpuPercent'>,
): AutoscaleDecision {
  const { current, range } = sample;
  const clamped = Math.min(range.max, Math.max(range.min, current));
  if (clamped !== current) return { concurrency: clamped, reason: 'range' };
  const overloaded = sample.eventLoopDelayMs > limits.maxEventLoopDelayMs || sample.cpuPercent > limits.maxCpuPercent;
  if (overloaded) {
    return current > range.min ? { concurrency: Math.max(range.min, current - limits.step), reason: 'overloaded' } : { concurrency: current, reason: 'steady' };
  }
  const busy = sample.peakRunning >= Math.ceil(current * BUSY_SHARE);
  if (sample.waiting > 0 && busy && current < range.max) return { concurrency: Math.min(range.max, current + limits.step), reason: 'backlog' };
  if (sample.idleForMs >= limits.idleMs && sample.waiting === 0 && sample.peakRunning < current && current > range.min) {
    return { concurrency: Math.max(range.min, current - limits.step), reason: 'idle' };
  }
  return { concurrency: current, reason: 'steady' };
}
