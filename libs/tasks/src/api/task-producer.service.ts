import { HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { uuidv7 } from 'uuidv7';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { isUniqueViolation } from '@conveyor/database';
import { ApiError, findUnsafeInput, flattenValidationErrors, unsafeInputError, validationFailed, type ApiErrorDetail } from '@conveyor/http';
import { TaskMetrics } from '@conveyor/observability';
import { redisFailureOf, type RedisFailure } from '@conveyor/queue';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import type { TaskTypeDefinition } from '../contracts/task-type';
import { LedgerOutcomeUnknownError, TaskLedgerService } from '../ledger/task-ledger.service';
import { TaskEntity } from '../ledger/task.entity';
import { jobForTask, type TaskJob } from '../task-job';
import { MAX_DELAY_MS, type CreateTaskDto } from './create-task.dto';
import { parseInstant } from './instant';
import { requestFingerprint } from './request-fingerprint';
import { TenantBacklog } from './tenant-backlog';

const ENQUEUE_TIMEOUT_MS = 2000;

export type PreparedTask = { row: TaskEntity; job: TaskJob };

/** What became of one job's add: done, refused before Redis ran it, or not known (yet). */
export type AddOutcome = 'added' | RedisFailure;

export interface EnqueueResult {
  /** In request order. */
  tasks: TaskEntity[];
  /** Per task: false when an idempotency key returned the task created earlier. */
  created: boolean[];
}

/**
 * Accepts tasks: validates each against its contract, writes the ledger rows, then adds the
 * BullMQ jobs (job id = task id). A 202 means the task runs, a 503 that it never does; see
 * addJobsOrRefuse for how an add Redis did not confirm is settled.
 */
@Injectable()
export class TaskProducer {
  private readonly logger = new Logger(TaskProducer.name);
  private readonly queues = new Map<string, Queue>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: TaskTypeRegistry,
    private readonly ledger: TaskLedgerService,
    private readonly metrics: TaskMetrics,
    private readonly moduleRef: ModuleRef,
    private readonly backlog: TenantBacklog,
  ) {}

  /**
   * Idempotency: a request carrying a key already used in the tenant returns the task created
   * then (same body) or is refused with 422 (other body). The database's unique index decides
   * races: when a concurrent identical request inserts first, our insert fails and the lookup
   * is repeated, so both callers get the same task and only one job exists.
   */
  async enqueue(tenantId: string, requests: CreateTaskDto[]): Promise<EnqueueResult> {
    const prepared = await this.prepare(tenantId, requests);
    for (let round = 0; ; round += 1) {
      const existing = await this.existingByKey(tenantId, prepared);
      const fresh = prepared.filter((p) => !p.row.idempotencyKey || !existing.has(p.row.idempotencyKey));
      await this.backlog.admit(tenantId, fresh.length);
      try {
        await this.ledger.insertShared(fresh.map((p) => p.row));
      } catch (error) {
        if (round === 0 && isUniqueViolation(error)) continue;
        if (error instanceof LedgerOutcomeUnknownError) {
          throw ApiError.unavailable(
            'LEDGER_OUTCOME_UNKNOWN',
            'The database stopped answering while committing the task: it may have been stored. Retry with the same Idempotency-Key to get the one task',
          );
        }
        throw error;
      }
      await this.addJobsOrRefuse(tenantId, fresh);
      this.backlog.accepted(tenantId, fresh.length);
      for (const { row } of fresh) this.metrics.enqueued(row.type, row.queue);
      return {
        tasks: prepared.map((p) => (p.row.idempotencyKey && existing.get(p.row.idempotencyKey)) || p.row),
        created: prepared.map((p) => !p.row.idempotencyKey || !existing.has(p.row.idempotencyKey)),
      };
    }
  }

  /**
   * Adds the jobs of rows already in the ledger. A 503 must mean "never runs" and a 202 "runs",
   * so what the API answers follows what Redis can have done:
   * - every add done: accepted;
   * - every add refused before Redis ran it (no connection): the rows are taken back and the
   *   request is refused with 503 QUEUE_UNAVAILABLE; nothing of it exists anywhere;
   * - any add whose outcome is unknown (no answer within ENQUEUE_TIMEOUT_MS, or the connection
   *   dropped after sending), or a mix: accepted. The rows stay `queued`; a job that reaches
   *   Redis late runs as usual, and the reconciler adds the job of any row Redis never got.
   *   Taking the rows back here would be the one wrong answer: the add may still land and run
   *   a task the client was told was refused (and that its retry would enqueue again).
   */
  async addJobsOrRefuse(tenantId: string, prepared: PreparedTask[]): Promise<void> {
    if (prepared.length === 0) return;
    const outcomes = await this.addJobs(prepared);
    if (outcomes.every((outcome) => outcome === 'added')) return;
    if (outcomes.every((outcome) => outcome === 'refused')) {
      try {
        await this.ledger.removeNotEnqueued(
          tenantId,
          prepared.map((p) => p.row.id),
        );
      } catch (error) {
        // The rows stay, so the task is accepted after all: the reconciler will queue it.
        this.logger.warn({ err: error, tasks: prepared.length }, 'queue refused the jobs and the rows could not be taken back; the reconciler will queue them');
        this.metrics.enqueueUnconfirmed(prepared.length);
        return;
      }
      this.logger.warn({ tasks: prepared.length }, 'enqueue refused: queue unavailable');
      throw ApiError.unavailable('QUEUE_UNAVAILABLE', 'The queue is unavailable; the task was not accepted, retry later');
    }
    const unconfirmed = outcomes.filter((outcome) => outcome !== 'added').length;
    this.metrics.enqueueUnconfirmed(unconfirmed);
    this.logger.warn(
      { tasks: prepared.length, unconfirmed },
      'enqueue accepted without confirmation from Redis; the reconciler queues any job Redis did not get',
    );
  }

  private async existingByKey(tenantId: string, prepared: PreparedTask[]): Promise<Map<string, TaskEntity>> {
    const keys = prepared.map((p) => p.row.idempotencyKey).filter((key): key is string => !!key);
    const existing = new Map((await this.ledger.findByIdempotencyKeys(tenantId, keys)).map((row) => [row.idempotencyKey!, row]));
    const reused = prepared.filter((p) => p.row.idempotencyKey && existing.has(p.row.idempotencyKey));
    const conflicts = reused.filter((p) => existing.get(p.row.idempotencyKey!)!.idempotencyHash !== p.row.idempotencyHash);
    if (conflicts.length > 0) {
      throw new ApiError(
        HttpStatus.UNPROCESSABLE_ENTITY,
        'IDEMPOTENCY_KEY_REUSED',
        'This idempotency key was already used for a different request',
        conflicts.map((p) => ({
          field: 'idempotencyKey',
          message: `key "${p.row.idempotencyKey}" belongs to task ${existing.get(p.row.idempotencyKey!)!.id}`,
        })),
      );
    }
    return existing;
  }

  private async prepare(tenantId: string, requests: CreateTaskDto[]) {
    const details: ApiErrorDetail[] = [];
    const prepared: PreparedTask[] = [];
    const keysSeen = new Set<string>();
    const now = Date.now();
    for (const [index, request] of requests.entries()) {
      const at = requests.length > 1 ? `tasks[${index}].` : '';
      const definition = this.registry.get(request.type);
      if (!definition) {
        if (requests.length === 1) {
          throw ApiError.badRequest('UNKNOWN_TASK_TYPE', `Unknown task type "${request.type}"`, [
            {
              field: `${at}type`,
              message: `known types: ${this.registry
                .all()
                .map((t) => t.type)
                .join(', ')}`,
            },
          ]);
        }
        details.push({ field: `${at}type`, message: `unknown task type "${request.type}"`, code: 'UNKNOWN_TASK_TYPE' });
        continue;
      }
      // Payloads reach here from JSON bodies (checked on arrival) and from other producers,
      // e.g. multipart form fields: the same limits hold for every one of them, before any copy.
      const unsafe = findUnsafeInput(request.payload, this.config.limits.json);
      if (unsafe) {
        const field = unsafe.field ? `${at}payload${unsafe.field.startsWith('[') ? '' : '.'}${unsafe.field}` : `${at}payload`;
        if (unsafe.tooLarge) throw unsafeInputError({ ...unsafe, field }, field);
        details.push({ field, message: unsafe.message });
        continue;
      }
      const payloadBytes = Buffer.byteLength(JSON.stringify(request.payload));
      if (payloadBytes > definition.defaults.maxPayloadBytes) {
        throw new ApiError(
          HttpStatus.PAYLOAD_TOO_LARGE,
          'PAYLOAD_TOO_LARGE',
          `The payload of ${definition.type} may be at most ${definition.defaults.maxPayloadBytes} bytes of JSON`,
          [{ field: `${at}payload`, message: `${payloadBytes} bytes` }],
        );
      }
      const payloadErrors = await this.validatePayload(definition, request.payload);
      if (payloadErrors.length > 0) {
        details.push(...payloadErrors.map((d) => ({ ...d, field: `${at}payload.${d.field}` })));
        continue;
      }
      if (request.delayMs !== undefined && request.runAt !== undefined) {
        details.push({ field: `${at}runAt`, message: 'give either delayMs or runAt, not both' });
        continue;
      }
      if (request.runAt !== undefined && parseInstant(request.runAt)! - now > MAX_DELAY_MS) {
        details.push({ field: `${at}runAt`, message: 'may be at most one year ahead, like delayMs' });
        continue;
      }
      if (request.idempotencyKey) {
        if (keysSeen.has(request.idempotencyKey)) {
          details.push({ field: `${at}idempotencyKey`, message: 'the same idempotency key appears twice in this request' });
          continue;
        }
        keysSeen.add(request.idempotencyKey);
      }
      prepared.push(this.build(tenantId, definition, request, now));
    }
    if (details.length > 0) throw validationFailed(details);
    return prepared;
  }

  private async validatePayload(definition: TaskTypeDefinition, payload: Record<string, unknown>) {
    const instance = plainToInstance(definition.payload, payload);
    // forbidUnknownValues would reject payload classes without rules (system.noop's empty payload).
    const errors = await validate(instance, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false });
    return flattenValidationErrors(errors);
  }

  private build(tenantId: string, definition: TaskTypeDefinition, request: CreateTaskDto, now: number) {
    const id = uuidv7();
    // Validation ran the same parser, so a runAt that got here is one it reads.
    const runAt = request.runAt ? parseInstant(request.runAt)! : now + (request.delayMs ?? 0);
    const delay = Math.max(0, runAt - now);
    const maxAttempts = request.maxAttempts ?? definition.defaults.maxAttempts ?? this.config.tasks.maxAttempts;
    const timeoutMs = request.timeoutMs ?? definition.defaults.timeoutMs ?? this.config.tasks.timeoutMs;
    const priority = request.priority ?? definition.defaults.priority;
    const expiresAt = request.expiresInMs ? new Date(now + request.expiresInMs) : null;
    const createdAt = new Date(now);

    const row = Object.assign(new TaskEntity(), {
      id,
      tenantId,
      type: definition.type,
      queue: definition.queue,
      status: delay > 0 ? 'scheduled' : 'queued',
      priority,
      payload: request.payload,
      result: null,
      error: null,
      progress: null,
      attempts: 0,
      maxAttempts,
      attemptBudget: maxAttempts,
      timeoutMs,
      idempotencyKey: request.idempotencyKey ?? null,
      idempotencyHash: request.idempotencyKey ? requestFingerprint(request) : null,
      tags: request.tags ?? null,
      createdAt,
      updatedAt: createdAt,
      scheduledFor: delay > 0 ? new Date(runAt) : null,
      expiresAt,
      startedAt: null,
      finishedAt: null,
      workerId: null,
    } satisfies TaskEntity);

    return { row, job: jobForTask(row, definition, now) };
  }

  /** The outcome of each item's add, in order; waits at most ENQUEUE_TIMEOUT_MS. */
  async addJobs(prepared: PreparedTask[]): Promise<AddOutcome[]> {
    const byQueue = new Map<string, number[]>();
    prepared.forEach((item, index) => byQueue.set(item.row.queue, [...(byQueue.get(item.row.queue) ?? []), index]));
    const outcomes: AddOutcome[] = prepared.map(() => 'unknown');
    const adds = [...byQueue].map(async ([queueName, indexes]) => {
      const queue = this.queue(queueName);
      const items = indexes.map((index) => prepared[index]);
      try {
        await (items.length === 1 ? queue.add(items[0].job.name, items[0].job.data, items[0].job.opts) : queue.addBulk(items.map((item) => item.job)));
        for (const index of indexes) outcomes[index] = 'added';
      } catch (error) {
        const failure = redisFailureOf(error);
        for (const index of indexes) outcomes[index] = failure;
        this.logger.warn({ err: error, queue: queueName, jobs: items.length, outcome: failure }, 'adding jobs to the queue failed');
      }
    });
    let timer: NodeJS.Timeout | undefined;
    // Past the deadline, unsettled adds stay `unknown`; their promises settle on their own.
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ENQUEUE_TIMEOUT_MS);
    });
    try {
      await Promise.race([Promise.all(adds), deadline]);
    } finally {
      clearTimeout(timer);
    }
    return [...outcomes];
  }

  /** Queues are registered through BullModule by each domain's contracts module. */
  queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = this.moduleRef.get<Queue>(getQueueToken(name), { strict: false });
      this.queues.set(name, queue);
    }
    return queue;
  }
}
