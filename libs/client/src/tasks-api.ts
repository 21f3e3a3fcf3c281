import { randomUUID } from './random-id.js';
import { ConveyorNetworkError, ConveyorTimeoutError } from './errors.js';
import { readEvents } from './sse.js';
import type { TaskTypeName, TaskTypes } from './task-types.gen.js';
import type { Transport } from './transport.js';
import {
  TERMINAL_STATUSES,
  type BatchItem,
  type CancelResult,
  type EnqueueOptions,
  type ListFilter,
  type TaskDetail,
  type TaskEvent,
  type TaskPage,
  type TaskStatus,
  type TaskView,
} from './types.js';

const isTerminal = (status: TaskStatus) => TERMINAL_STATUSES.includes(status);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const taskPath = (id: string) => `/v1/tasks/${encodeURIComponent(id)}`;

export interface WaitOptions {
  /** Give up after this long with ConveyorTimeoutError (default 60 s). */
  timeoutMs?: number;
  /** Between two reads of the task (default 500 ms). */
  pollMs?: number;
}

export interface EventsOptions {
  /** Resume after this event id (e.g. the last one a previous stream gave). */
  lastEventId?: string;
  /** Reconnections in a row without an event before giving up (default 5). */
  maxReconnects?: number;
  /** Wait before reconnecting (default 500 ms, doubled each time). */
  reconnectDelayMs?: number;
  signal?: AbortSignal;
}

/** `client.tasks`: the task routes of the API. */
export class TasksApi {
  constructor(private readonly transport: Transport) {}

  /**
   * Enqueues a task of a known type (payload typed by the contract). An idempotency key is
   * always sent (yours, or one made here), so the retries after a network failure create
   * nothing twice. Resolves with the task (also when the key had created it before).
   */
  async enqueue<T extends TaskTypeName>(type: T, payload: TaskTypes[T]['payload'], options: EnqueueOptions = {}): Promise<TaskView<T>> {
    const { idempotencyKey = randomUUID(), ...rest } = options;
    const { body } = await this.transport.request<TaskView<T>>('POST', '/v1/tasks', {
      body: { type, payload, ...rest },
      headers: { 'idempotency-key': idempotencyKey },
      idempotent: true,
    });
    return body;
  }

  /** Enqueues up to 1000 tasks at once, all or none; each gets an idempotency key unless it has one. */
  async enqueueBatch(tasks: BatchItem[]): Promise<TaskView[]> {
    const keyed = tasks.map((task) => ({ ...task, idempotencyKey: task.idempotencyKey ?? randomUUID() }));
    const { body } = await this.transport.request<{ tasks: TaskView[] }>('POST', '/v1/tasks/batch', { body: { tasks: keyed }, idempotent: true });
    return body.tasks;
  }

  /** `client.tasks.get<'file.clean'>(id)` types the payload and result as that type's (the API does not check it is). */
  async get<T extends string = string>(id: string): Promise<TaskDetail<T>> {
    return (await this.transport.request<TaskDetail<T>>('GET', taskPath(id), { idempotent: true })).body;
  }

  /** One page, newest first; pass `nextCursor` back as `cursor` for the next. */
  async listPage(filter: ListFilter & { cursor?: string } = {}): Promise<TaskPage> {
    return (await this.transport.request<TaskPage>('GET', '/v1/tasks', { query: { ...filter }, idempotent: true })).body;
  }

  /** Every task matching the filter, newest first, fetched a page at a time as you iterate. */
  async *list(filter: ListFilter = {}): AsyncGenerator<TaskView> {
    let cursor: string | undefined;
    do {
      const page = await this.listPage({ ...filter, cursor });
      yield* page.tasks;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  /** Cancels it: at once when it waits, by telling its worker when it runs (`cancellation: 'cancelling'`). */
  async cancel(id: string): Promise<CancelResult> {
    return (await this.transport.request<CancelResult>('POST', `${taskPath(id)}/cancel`, { idempotent: true })).body;
  }

  /** Runs a failed, cancelled or expired task again (ConveyorConflictError TASK_NOT_RETRYABLE otherwise). */
  async retry(id: string): Promise<TaskView> {
    // Not retried after a network failure: a second retry of a task already running again is refused (409).
    return (await this.transport.request<TaskView>('POST', `${taskPath(id)}/retry`, { idempotent: false })).body;
  }

  /** Moves a task that has not started to another priority (ConveyorConflictError TASK_NOT_WAITING once it runs). */
  async changePriority(id: string, priority: number): Promise<TaskView> {
    return (await this.transport.request<TaskView>('PATCH', taskPath(id), { body: { priority }, idempotent: true })).body;
  }

  /** Resolves with the task once it is terminal (completed, failed, cancelled, expired); typed as `get` is. */
  async waitFor<T extends string = string>(id: string, options: WaitOptions = {}): Promise<TaskDetail<T>> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      const task = await this.get<T>(id);
      if (isTerminal(task.status)) return task;
      const left = deadline - Date.now();
      if (left <= 0) throw new ConveyorTimeoutError('WAIT_TIMEOUT', `Task ${id} is still ${task.status}`);
      await sleep(Math.min(options.pollMs ?? 500, left));
    }
  }

  /**
   * The task's events (`status`, `progress`) until it is terminal. A dropped connection is
   * reopened with `Last-Event-ID`, so nothing is missed and nothing is repeated.
   */
  async *events(id: string, options: EventsOptions = {}): AsyncGenerator<TaskEvent> {
    let lastEventId = options.lastEventId;
    const maxReconnects = options.maxReconnects ?? 5;
    for (let failures = 0; ;) {
      let sawEvent = false;
      try {
        const response = await this.open(id, lastEventId, options.signal);
        for await (const raw of readEvents(response.body!)) {
          sawEvent = true;
          if (raw.id) lastEventId = raw.id;
          const event = { id: raw.id, event: raw.event, data: JSON.parse(raw.data) as unknown } as TaskEvent;
          yield event;
          if (event.event === 'error') return;
          if (event.event === 'status' && isTerminal(event.data.status)) return;
        }
      } catch (error) {
        if (options.signal?.aborted || !(error instanceof ConveyorNetworkError || error instanceof TypeError)) throw error;
      }
      // The stream ended before a terminal status: the task may have ended meanwhile (a resumed
      // stream has nothing to send then), else the connection dropped.
      if (!sawEvent && isTerminal((await this.get(id)).status)) return;
      failures = sawEvent ? 0 : failures + 1;
      if (failures > maxReconnects) throw new ConveyorNetworkError('NETWORK_ERROR', `The event stream of task ${id} keeps closing`);
      await sleep((options.reconnectDelayMs ?? 500) * 2 ** Math.max(0, failures - 1));
    }
  }

  private open(id: string, lastEventId: string | undefined, signal?: AbortSignal): Promise<Response> {
    return this.transport.open(`${taskPath(id)}/events`, { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) }, signal);
  }
}
