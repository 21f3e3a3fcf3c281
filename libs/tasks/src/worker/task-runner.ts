import { Inject, Injectable } from '@nestjs/common';
import { UnrecoverableError, WaitingError, type Job } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { ErrorReporter, inConsumerSpan, TaskMetrics } from '@conveyor/observability';
import { TaskCancelledError, TaskFailure, TaskInterruptedError, TaskTimeoutError } from '../contracts/task-failure';
import type { FlowChild, TaskContext, TaskHandler } from '../contracts/task-handler';
import type { TaskTypeDefinition } from '../contracts/task-type';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import { TaskFactory } from '../intake/task-factory';
import type { TaskEntity } from '../ledger/task.entity';
import { failpoint } from '../failpoints';
import type { CommitEffects } from '../flows/commit-effects';
import { CommitEffectsRelay } from '../flows/commit-effects.relay';
import { FlowChildren } from '../flows/flow-children';
import { nextPipelineStep } from '../pipeline/pipeline-continuation';
import { CompletedJobRetention } from './completed-job-retention';
import { FollowUps } from './follow-ups';
import { AttemptLog } from '../task-logs/task-log';
import { TaskLogWriter } from '../task-logs/task-log-writer';
import { TaskStateWriter, type TaskStatePatch, type WriteOptions } from './task-state-writer';
import { storableJson } from '../ledger/storable-json';
import { isTerminal, type TaskError } from '../ledger/task-status';
import { afterFailure, attemptNumber, maxAttemptsOf, withRetryDelay } from '../retry-policy';
import { CANCEL_REASON } from '../task-cancellation';
import { jobSubject, type TaskJobData } from '../task-job';

export interface BoundHandler {
  definition: TaskTypeDefinition;
  handler: TaskHandler;
}

/** What BullMQ hands the processor besides the job. */
export interface JobLease {
  /** Lock token of this attempt; needed to hand the job back to the queue. */
  token?: string;
  /** Fired by BullMQ's `cancelJob`/`cancelAllJobs` (used at the end of the shutdown grace). */
  signal?: AbortSignal;
}

/** Longest error message kept in the ledger; stack traces stay in the logs. */
export const MAX_ERROR_MESSAGE = 2000;

function toTaskError(error: unknown): TaskError {
  if (error instanceof TaskFailure) return { code: error.code, message: error.message.slice(0, MAX_ERROR_MESSAGE) };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'HANDLER_ERROR', message: message.slice(0, MAX_ERROR_MESSAGE) };
}

/** Longest progress message kept; progress is a status line, not a log. */
const MAX_PROGRESS_MESSAGE = 500;

/**
 * The handler's result as the ledger (a JSON column) and Redis will hold it, or a permanent
 * failure saying why it cannot be: retrying would only produce the same value again.
 */
function storableResult(result: unknown, maxBytes: number): unknown {
  const value = result ?? null;
  let text: string;
  try {
    text = storableJson(value);
  } catch (error) {
    throw new TaskFailure('RESULT_NOT_SERIALIZABLE', `the result cannot be stored as JSON: ${error instanceof Error ? error.message : String(error)}`, false);
  }
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) {
    throw new TaskFailure(
      'RESULT_TOO_LARGE',
      `the result is ${bytes} bytes as JSON, over TASK_MAX_RESULT_BYTES (${maxBytes}); store large outputs as files`,
      false,
    );
  }
  return value;
}

/**
 * Runs one attempt of one task: the wrapper every handler gets for free. It binds the log
 * context, records state in the ledger, enforces the time limit through an AbortSignal,
 * throttles progress, classifies failures and records metrics. Handlers stay thin.
 */
@Injectable()
export class TaskRunner {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly writer: TaskStateWriter,
    private readonly metrics: TaskMetrics,
    private readonly logger: PinoLogger,
    private readonly factory: TaskFactory,
    private readonly effects: CommitEffectsRelay,
    private readonly flowChildren: FlowChildren,
    private readonly registry: TaskTypeRegistry,
    private readonly retention: CompletedJobRetention,
    private readonly logWriter: TaskLogWriter,
    private readonly reporter: ErrorReporter,
  ) {}

  run(job: Job<TaskJobData>, bound: BoundHandler, lease: JobLease = {}): Promise<unknown> {
    const attempt = attemptNumber(job);
    // One consumer span per attempt, a child of the context the job carries (the enqueue, or the
    // attempt whose follow-up this is): its database and Redis calls and its log lines join it.
    const attributes = () => ({ 'messaging.system': 'bullmq', 'conveyor.task.id': job.id, 'conveyor.task.type': job.name, 'conveyor.task.attempt': attempt });
    return inConsumerSpan(`process ${job.name}`, job.opts.telemetry?.metadata, attributes, () => this.runAttempt(job, bound, attempt, lease));
  }

  private runAttempt(job: Job<TaskJobData>, bound: BoundHandler, attempt: number, lease: JobLease): Promise<unknown> {
    return this.logger.runInContext(() => this.attempt(job, bound, attempt, lease), {
      bindings: {
        taskId: job.id,
        taskType: job.name,
        attempt,
        tenantId: job.data.tenantId,
        queue: bound.definition.queue,
        ...(job.data.parentId ? { parentId: job.data.parentId } : {}),
        ...(job.data.rootId ? { rootId: job.data.rootId } : {}),
      },
    });
  }

  private async attempt(job: Job<TaskJobData>, { definition, handler }: BoundHandler, attempt: number, lease: JobLease) {
    const taskId = job.id as string;
    const { type, queue } = definition;
    const maxAttempts = maxAttemptsOf(job);
    const started = Date.now();
    if (job.data.expiresAt !== undefined && started > job.data.expiresAt) {
      // Not started before its deadline: it must never run. Completing the job (not failing
      // it) keeps BullMQ from retrying; the ledger says why.
      await this.record(job, {
        status: 'expired',
        error: { code: 'EXPIRED', message: 'the task was not started before its deadline' },
        finishedAt: new Date(started),
      });
      this.logger.info('task expired before it started');
      return null;
    }
    // Wait counts from when the task could first run (after any delay), not from creation;
    // retries are left out, since their wait includes earlier attempts and backoff.
    if (job.attemptsMade === 0) this.metrics.attemptStarted(type, queue, (started - job.timestamp - (job.opts.delay ?? 0)) / 1000);

    // Not awaited, and not flushed alone: a quick task's terminal write merges with it, a long
    // task's rides along with the next flush (within SOON_FLUSH_MS).
    void this.writer.writeSoon(taskId, {
      status: 'active',
      attempts: attempt,
      startedAt: new Date(started),
      finishedAt: null,
      workerId: this.config.worker.id,
    });

    // One signal for the handler; it fires on timeout or when the worker interrupts the task.
    // The `stopped` promise rejects with the reason, so the attempt ends even if the handler
    // ignores the signal.
    const timeoutMs = job.data.timeoutMs;
    const controller = new AbortController();
    const stopped = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    stopped.catch(() => undefined);
    const timer = setTimeout(() => controller.abort(new TaskTimeoutError(timeoutMs)), timeoutMs);
    // BullMQ's signal fires for an API cancel (reason "cancelled") or at the end of the
    // shutdown grace (any other reason).
    const interrupt = () => controller.abort(lease.signal?.reason === CANCEL_REASON ? new TaskCancelledError() : new TaskInterruptedError());
    if (lease.signal?.aborted) interrupt();
    else lease.signal?.addEventListener('abort', interrupt, { once: true });

    let lastProgressAt = 0;
    // Made on the first `enqueue`: most tasks ask for no follow-up.
    let followUps: FollowUps | undefined;
    const collector = () => (followUps ??= new FollowUps(this.factory, { taskId, tenantId: job.data.tenantId, definition, rootId: job.data.rootId }));
    const log = new AttemptLog(taskId, attempt, this.logger.logger, this.logWriter, {
      maxLines: this.config.tasks.logMaxLines,
      maxBytes: this.config.tasks.logMaxBytes,
    });
    const context: TaskContext = {
      taskId,
      tenantId: job.data.tenantId,
      type,
      attempt,
      maxAttempts,
      signal: controller.signal,
      logger: this.logger.logger,
      log,
      progress: (percent, message) => {
        // An abandoned handler (timed out or interrupted) must not keep writing progress.
        if (!Number.isFinite(percent) || controller.signal.aborted) return;
        const now = Date.now();
        if (now - lastProgressAt < this.config.tasks.progressIntervalMs && percent < 100) return;
        lastProgressAt = now;
        const progress = {
          percent: Math.max(0, Math.min(100, Math.round(percent * 10) / 10)),
          ...(message ? { message: String(message).slice(0, MAX_PROGRESS_MESSAGE) } : {}),
        };
        void this.writer.writeSoon(taskId, { progress });
        void job.updateProgress(progress).catch(() => undefined);
      },
      enqueue: (followUp, payload, options) => collector().add(followUp, payload, options),
      children: <R>() => this.flowChildren.of(job.data.tenantId, taskId) as Promise<Array<FlowChild<R>>>,
    };

    try {
      // A handler that ignores its signal is abandoned when the time is up: the attempt fails
      // with TIMEOUT and the worker slot is freed, though the handler's own promise runs on.
      const result = storableResult(await Promise.race([handler.handle(job.data.payload, context), stopped]), this.config.tasks.maxResultBytes);
      // A task of a pipeline hands its result on: the next step is one more follow-up.
      const next = nextPipelineStep(job.data.pipeline, definition, result, this.registry);
      if (next) await collector().continuePipeline(next);
      const seconds = (Date.now() - started) / 1000;
      const completion = { status: 'completed' as const, result, error: null, finishedAt: new Date() };
      await this.record(job, completion, followUps?.all());
      this.metrics.completed(type, queue, seconds, job.data.tenantId);
      this.logger.info({ durationMs: Math.round(seconds * 1000) }, 'task completed');
      return result;
    } catch (error) {
      if (error instanceof TaskInterruptedError) return this.release(job, lease, error);
      if (error instanceof TaskCancelledError) return this.cancelled(job, error, started);
      const seconds = (Date.now() - started) / 1000;
      const taskError = toTaskError(error);
      const { final, retryable, delayMs } = afterFailure(error, job, definition.defaults.backoff);
      const failedAt = Date.now();
      await this.record(job, {
        status: final ? 'failed' : 'retrying',
        error: taskError,
        ...(final ? { finishedAt: new Date(failedAt) } : { scheduledFor: new Date(failedAt + delayMs) }),
      });
      this.metrics.failed(type, queue, taskError.code, final, seconds, job.data.tenantId);
      this.logger.warn(
        { err: error, code: taskError.code, final, durationMs: Math.round(seconds * 1000), ...(final ? {} : { retryInMs: delayMs }) },
        final ? 'task failed' : 'task attempt failed; will retry',
      );
      if (final) this.reportFailure(job, queue, error, attempt, taskError.code);
      // UnrecoverableError tells BullMQ not to use the remaining attempts; otherwise BullMQ
      // waits the delay recorded above (retryBackoffStrategy reads it off the error).
      throw !retryable ? new UnrecoverableError(taskError.message) : withRetryDelay(error, delayMs);
    } finally {
      clearTimeout(timer);
      lease.signal?.removeEventListener('abort', interrupt);
      log.close();
    }
  }

  /**
   * Writes a state of the attempt (with the follow-ups of a completion, in one transaction),
   * then does in Redis what the commit left to do: queue the follow-ups (those just written, or
   * an earlier run's never queued) and, for a flow node that ended, the parent it released or
   * the nodes its failure cancelled. Not doing that is safe at any point: the rows say it all,
   * and the reconciler adds the job of any queued row Redis does not have.
   *
   * A plain completion (no follow-ups, not a flow node) is written behind: the job is
   * acknowledged at once and its ledger write joins the next batch. Redis keeps the completed
   * job, with its result, until the ledger has it (CompletedJobRetention), and the reconciler
   * writes the end from there if this process dies first. What commits with other changes
   * (follow-ups, a flow's parent) is never acknowledged before it is in the ledger: Redis has
   * no record of it. Past WORKER_WRITE_BEHIND_MAX unwritten changes, completions wait too.
   */
  private async record(job: Job<TaskJobData>, change: TaskStatePatch, followUps: TaskEntity[] = []): Promise<void> {
    const { parentId, onFailure, tenantId } = job.data;
    const taskId = job.id as string;
    // The subject lets transition hooks (webhooks) decide from memory whether this change concerns them.
    const options: WriteOptions = {
      subject: jobSubject(taskId, job.name, job.data),
      ...(onFailure && parentId ? { flowParent: { id: parentId, tenantId } } : {}),
    };
    // Completed or expired: the processor returns and BullMQ files the job as completed.
    const completesJob = change.status === 'completed' || change.status === 'expired';
    if (completesJob) this.retention.keep(job);
    const committed = followUps.length > 0 ? this.writer.writeCompletion(taskId, change, followUps, options) : this.writer.write(taskId, change, options);
    const { writeBehindMax } = this.config.worker;
    const plain = change.status === 'completed' && followUps.length === 0 && !options.flowParent && writeBehindMax > 0;
    const behind = plain && this.writer.backlog <= writeBehindMax;
    if (plain) this.metrics.completionRecorded(behind ? 'behind' : 'waited');
    const done = committed.then((effects) => this.committed(job, change, effects, followUps.length > 0, completesJob));
    if (!behind) return done;
    // The job's end is safe in Redis meanwhile; a write that never commits (shutdown) is the reconciler's.
    done.catch((error: unknown) =>
      this.logger.warn({ err: error, taskId }, 'a completion written behind did not reach the ledger; the reconciler will record it'),
    );
  }

  private async committed(job: Job<TaskJobData>, change: TaskStatePatch, effects: CommitEffects, withFollowUps: boolean, completesJob: boolean) {
    const { rootId, onFailure, parentId } = job.data;
    if (change.status && isTerminal(change.status)) {
      if (onFailure && change.status !== 'completed') this.metrics.flowChildFailed(onFailure);
      if (rootId === job.id) this.metrics.flowFinished(change.status);
    }
    if (withFollowUps) failpoint('after-follow-up-commit');
    if (onFailure && parentId && effects.queue.length > 0) failpoint('after-flow-release-commit');
    await this.effects.apply(effects);
    if (completesJob) this.retention.ledgered(job);
  }

  /**
   * A job whose type this worker has no handler for (e.g. added by a newer API during a
   * rolling deploy, or by hand): fail it for good with a clear code instead of retrying it.
   */
  async rejectUnknownType(job: Job<TaskJobData>): Promise<never> {
    const message = `no handler for task type "${job.name}" in this worker`;
    await this.record(job, {
      status: 'failed',
      error: { code: 'UNKNOWN_TASK_TYPE', message },
      finishedAt: new Date(),
    });
    this.logger.error({ taskId: job.id, taskType: job.name }, message);
    this.reportFailure(job, job.queueName, new Error(message), attemptNumber(job), 'UNKNOWN_TASK_TYPE');
    throw new UnrecoverableError(message);
  }

  /** A final failure, to the error reporter (a no-op without SENTRY_DSN). */
  private reportFailure(job: Job<TaskJobData>, queue: string, error: unknown, attempt: number, code: string): void {
    this.reporter.taskFailed(error, {
      taskId: job.id as string,
      type: job.name,
      queue,
      attempt,
      tenantId: job.data.tenantId,
      code,
      payload: job.data.payload,
    });
  }

  private async cancelled(job: Job<TaskJobData>, error: TaskCancelledError, started: number): Promise<never> {
    await this.record(job, { status: 'cancelled', error: { code: error.code, message: error.message }, finishedAt: new Date() });
    this.logger.info({ durationMs: Date.now() - started }, 'task cancelled while running');
    // Unrecoverable: BullMQ must not retry a cancelled task.
    throw new UnrecoverableError(error.message);
  }

  /** Records a task BullMQ failed on its own (e.g. its workers kept dying mid-run). */
  async recordGaveUp(job: Job<TaskJobData>, reason: string): Promise<void> {
    await this.record(job, { status: 'failed', error: { code: 'STALLED', message: reason }, finishedAt: new Date() });
    this.metrics.failed(job.name, job.queueName, 'STALLED', true, 0, job.data.tenantId);
    this.logger.error({ taskId: job.id, taskType: job.name }, `task failed by the queue: ${reason}`);
    this.reportFailure(job, job.queueName, new Error(`task failed by the queue: ${reason}`), attemptNumber(job), 'STALLED');
  }

  /** Hands an interrupted task back to the queue at once; BullMQ does not count it as an attempt. */
  private async release(job: Job<TaskJobData>, lease: JobLease, error: TaskInterruptedError): Promise<never> {
    await this.writer.write(job.id as string, {
      status: 'queued',
      error: { code: error.code, message: error.message },
      workerId: this.config.worker.id,
    });
    await job.moveToWait(lease.token);
    this.logger.warn('task interrupted by shutdown; released to the queue');
    throw new WaitingError();
  }
}
