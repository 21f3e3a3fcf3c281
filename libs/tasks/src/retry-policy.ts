import type { Job } from 'bullmq';
import type { BackoffPolicy, TaskTypeDefinition } from './contracts/task-type';
import { TaskFailure } from './contracts/task-failure';
import type { TaskEntity } from './ledger/task.entity';

/**
 * Every rule about attempts and retries, in one place: how many attempts a task gets (at
 * enqueue and at a manual retry), how attempts are counted across runs, manual retries and
 * crashes, whether a failed attempt is final, and how long the next one waits. The producer
 * (TaskFactory), the runner, the control service (manual retry) and the reconciler all ask here.
 *
 * The wait is decided by Conveyor, not by BullMQ: the runner records it in the ledger
 * (`scheduledFor` of the `retrying` row, what clients see) and hands the same number to BullMQ
 * through {@link retryBackoffStrategy}, so the two never disagree.
 */

/** The BullMQ backoff type of Conveyor's jobs; its delays come from {@link retryBackoffStrategy}. */
export const RETRY_BACKOFF_TYPE = 'conveyor';

/** Where a failed attempt's error carries the delay the runner decided, for the backoff strategy. */
const RETRY_DELAY = Symbol.for('conveyor.retryDelayMs');

/** Attempts a new task gets: the request's, else its type's default, else MAX_RETRY_ATTEMPTS. */
export function initialMaxAttempts(requested: number | undefined, definition: TaskTypeDefinition, configured: number): number {
  return requested ?? definition.defaults.maxAttempts ?? configured;
}

/**
 * The allowance after a manual retry: the task gets the attempts it was created with again on
 * top of those it used (its attempt count keeps going).
 */
export function maxAttemptsAfterManualRetry(task: Pick<TaskEntity, 'attempts' | 'attemptBudget'>): number {
  return task.attempts + task.attemptBudget;
}

/** BullMQ's share of a row's attempts: what the row has left (at least one). */
export function jobAttempts(row: Pick<TaskEntity, 'maxAttempts' | 'attempts'>): number {
  return Math.max(1, row.maxAttempts - row.attempts);
}

type JobCounts = Pick<Job, 'attemptsStarted' | 'attemptsMade'> & { data: { attemptOffset?: number } };

/**
 * The number of this attempt: every start of the task so far, this one included. Counts keep
 * going across manual retries (the job's own count starts after the offset), and a run that a
 * crash or a shutdown cut short counts too: BullMQ records those in `attemptsStarted`, never
 * in `attemptsMade`, and a ledger that left them out would hide that a handler ran twice.
 */
export function attemptNumber(job: JobCounts): number {
  return (job.data.attemptOffset ?? 0) + Math.max(job.attemptsStarted, job.attemptsMade + 1);
}

/** Runs of a finished job, the interrupted one included (see attemptNumber; a finished job counts its end in attemptsMade). */
export function finishedRuns(job: JobCounts): number {
  return (job.data.attemptOffset ?? 0) + Math.max(job.attemptsStarted, job.attemptsMade);
}

/**
 * Attempts a row has used up. An attempt that never finished does not count, as BullMQ does
 * not count a stalled run: the one an `active` row was running when its job vanished, or the
 * one a shutdown interrupted (`queued` with INTERRUPTED). Any other attempt has ended (a
 * `retrying` row's last one failed; a retried task keeps its finished ones).
 */
export function attemptsUsed(row: Pick<TaskEntity, 'status' | 'attempts' | 'error'>): number {
  const unfinished = row.status === 'active' || (row.status === 'queued' && row.error?.code === 'INTERRUPTED');
  return unfinished ? Math.max(0, row.attempts - 1) : row.attempts;
}

/** What happens after a failed attempt. */
export interface RetryDecision {
  /** No further attempt: the task ends `failed`. */
  final: boolean;
  /** False when the failure said it cannot succeed on retry (BullMQ must not use the rest). */
  retryable: boolean;
  /** Wait before the next attempt (0 when final). */
  delayMs: number;
}

/**
 * Decides after a failed attempt. Only failures count towards the allowance, as in BullMQ: a
 * run a crash cut short is a start but not a failure. `jobFailures` is this job's own count
 * (this failure included), which the backoff grows with: a manual retry starts it over.
 */
export function afterFailure(
  error: unknown,
  job: JobCounts & { opts: { attempts?: number } },
  backoff: BackoffPolicy,
  random: () => number = Math.random,
): RetryDecision {
  const offset = job.data.attemptOffset ?? 0;
  const jobFailures = job.attemptsMade + 1;
  const maxAttempts = offset + (job.opts.attempts ?? 1);
  const retryable = !(error instanceof TaskFailure) || error.retryable;
  const final = !retryable || offset + jobFailures >= maxAttempts;
  if (final) return { final, retryable, delayMs: 0 };
  const asked = error instanceof TaskFailure ? error.retryAfterMs : undefined;
  return { final, retryable, delayMs: asked ?? backoffDelay(backoff, jobFailures, random) };
}

/** The attempts a job's task may make in all (the manual retries' earlier ones included). */
export function maxAttemptsOf(job: { data: { attemptOffset?: number }; opts: { attempts?: number } }): number {
  return (job.data.attemptOffset ?? 0) + (job.opts.attempts ?? 1);
}

/**
 * The wait after the `failures`-th failure: `delayMs` (fixed) or `delayMs · 2^(failures−1)`
 * (exponential), of which the `jitter` share is random, so that a burst of failures spreads out.
 */
export function backoffDelay(policy: BackoffPolicy, failures: number, random: () => number = Math.random): number {
  const full = policy.type === 'exponential' ? Math.round(2 ** Math.max(0, failures - 1) * policy.delayMs) : policy.delayMs;
  return Math.floor(full * (1 - policy.jitter) + random() * full * policy.jitter);
}

/** Marks the error the attempt fails with by the delay it decided (see retryBackoffStrategy). */
export function withRetryDelay(error: unknown, delayMs: number): Error {
  const carrier = error instanceof Error ? error : new Error(String(error));
  Object.defineProperty(carrier, RETRY_DELAY, { value: delayMs, enumerable: false });
  return carrier;
}

/**
 * BullMQ's custom backoff (Worker `settings.backoffStrategy`), used by jobs whose backoff type is
 * RETRY_BACKOFF_TYPE: the delay the runner decided and recorded. An error without one (BullMQ
 * failing a job itself) retries at once.
 */
export function retryBackoffStrategy(_attemptsMade: number, _type?: string, error?: Error): number {
  const delay = (error as { [RETRY_DELAY]?: unknown } | undefined)?.[RETRY_DELAY];
  return typeof delay === 'number' ? delay : 0;
}
