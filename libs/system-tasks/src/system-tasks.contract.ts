import { IsIn, IsInt, IsObject, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { defineTaskType } from '@conveyor/tasks';

/** Queue of the built-in system task types. A stored name: do not rename. */
export const SYSTEM_QUEUE = 'system';

export class NoopPayload {}

export interface NoopResult {
  ok: true;
}

export class SleepPayload {
  /** How long the task runs. */
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  ms: number;

  /** Fail this many first attempts (attempt numbers 1..failTimes), then succeed. */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100)
  failTimes?: number;

  /** Ask for this many `system.noop` follow-ups once the sleep is over (a chain to test with). */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100)
  followUps?: number;
}

export interface SleepResult {
  sleptMs: number;
  attempt: number;
}

export const LOG_LEVELS = ['info', 'warn'] as const;

export class LogPayload {
  /** The line's message. */
  @IsOptional()
  @IsString()
  @MaxLength(500)
  message?: string;

  @IsOptional()
  @IsIn(LOG_LEVELS)
  level?: (typeof LOG_LEVELS)[number];

  /** Logged with the message; as a pipeline step, the pipeline fills it with what the steps before handed on. */
  @IsOptional()
  @IsObject()
  input?: Record<string, unknown>;

  /** Writes the line this many times (default 1), each with its number: a test bed for the task log's caps and paging. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  repeat?: number;
}

export interface LogResult {
  message: string;
  input: Record<string, unknown>;
}

/** Returns at once: the probe for tests and throughput benchmarks. */
export const SYSTEM_NOOP = defineTaskType<NoopPayload, NoopResult>({
  type: 'system.noop',
  queue: SYSTEM_QUEUE,
  description: 'Does nothing and completes at once; for tests and benchmarks.',
  payload: NoopPayload,
  defaults: { maxAttempts: 1 },
});

/** Sleeps in slices with progress and abort support: the test bed for retries and timeouts. */
export const SYSTEM_SLEEP = defineTaskType<SleepPayload, SleepResult>({
  type: 'system.sleep',
  queue: SYSTEM_QUEUE,
  description:
    'Sleeps `ms` milliseconds in slices, reporting progress; fails the first `failTimes` attempts; then asks for `followUps` system.noop follow-ups.',
  payload: SleepPayload,
  defaults: { backoff: { type: 'exponential', delayMs: 200, jitter: 0.5 } },
  followUps: [SYSTEM_NOOP],
});

export class GatherPayload {}

/** One child of a gathering flow parent, as the parent saw it. */
export interface GatheredChild {
  id: string;
  type: string;
  status: string;
  result: unknown;
  error: { code: string; message: string } | null;
}

export interface GatherResult {
  /** The children that ended, in the order the flow listed them (see `ctx.children()`). */
  children: GatheredChild[];
  completed: number;
  failed: number;
}

/**
 * A flow parent that collects what its children returned: the simplest fan-in, and the
 * probe the flow tests use to see what a parent is shown under each failure policy.
 */
export const SYSTEM_GATHER = defineTaskType<GatherPayload, GatherResult>({
  type: 'system.gather',
  queue: SYSTEM_QUEUE,
  description: "A flow parent that returns its children's outcomes (status, result, error) and how many completed or failed.",
  payload: GatherPayload,
  defaults: { maxAttempts: 1 },
});

/**
 * Writes one line to the worker's log and keeps it as the task's result. As the last step of a
 * pipeline it records (and announces, to whoever reads the logs or the ledger) what the chain
 * produced; a webhook step will do the same for outside listeners.
 */
export const SYSTEM_LOG = defineTaskType<LogPayload, LogResult>({
  type: 'system.log',
  queue: SYSTEM_QUEUE,
  description:
    'Writes `message` and `input` as a line of the task log (`repeat` times) and returns them; as a pipeline step, `input` is what the steps before handed on.',
  payload: LogPayload,
  defaults: { maxAttempts: 1 },
  pipeline: { takes: { input: '*' } },
});

export const SYSTEM_TASK_TYPES = [SYSTEM_NOOP, SYSTEM_SLEEP, SYSTEM_GATHER, SYSTEM_LOG] as const;
