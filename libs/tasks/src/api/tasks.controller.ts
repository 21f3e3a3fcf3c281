import { Body, Controller, Get, Headers, HttpCode, HttpStatus, Patch, Post, Query, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiProduces, ApiResponse } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentTenant, decodeCursor, encodeCursor, ReadableTenants, RequireScopes, type Principal } from '@conveyor/http';
import { TaskLedgerService } from '../ledger/task-ledger.service';
import { CreateTaskBatchDto, CreateTaskDto, RetryTasksDto, UpdateTaskDto } from './create-task.dto';
import { idempotencyKeyOf } from './idempotency-key';
import { ListTasksQuery } from './list-tasks.query';
import { TaskBulkService } from './task-bulk.service';
import { TaskControlService } from './task-control.service';
import { TaskId, taskNotFound } from './task-id.param';
import { TaskEventStreams } from './task-event-streams.service';
import { streamTaskEvents } from './task-events.stream';
import { TaskProducer } from './task-producer.service';
import { toTaskView } from '../ledger/task-view';
import { isTerminal } from '../ledger/task-status';
import { TaskLogReader } from '../task-logs/task-log-reader';
import { TaskLogPageView, toTaskLogLineView } from './task-log-view.dto';
import { TaskLogsQuery } from './task-logs.query';
import { CancelledTaskView, RetriedTasksView, TaskBatchView, TaskDetailView, TaskListView, TaskView } from '../ledger/task-view.dto';

/** Follow-ups listed with a task; the rest through `GET /v1/tasks?parentId=`. */
const CHILDREN_SHOWN = 100;
const DEFAULT_PAGE = 50;
const DEFAULT_LOG_PAGE = 100;
/** Tasks a text search reads per page at most. */
const SEARCH_WINDOW = 10_000;

@Controller('v1/tasks')
export class TasksController {
  constructor(
    private readonly producer: TaskProducer,
    private readonly control: TaskControlService,
    private readonly ledger: TaskLedgerService,
    private readonly streams: TaskEventStreams,
    private readonly logReader: TaskLogReader,
    private readonly bulk: TaskBulkService,
  ) {}

  /** 202 for a new task; 200 with the earlier task when the Idempotency-Key was seen with the same body. */
  @Post()
  @RequireScopes('tasks:write')
  @ApiOperation({ operationId: 'enqueueTask', summary: 'Enqueue a task' })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Repeat the request safely: the same key and body answer with the first task' })
  @ApiResponse({ status: 202, type: TaskView, description: 'Accepted: in the ledger and queued; `Location` points at it' })
  @ApiResponse({ status: 200, type: TaskView, description: 'The task created earlier with this Idempotency-Key and body' })
  @ApiResponse({ status: 422, description: 'IDEMPOTENCY_KEY_REUSED: the key was used with another body' })
  async create(
    @CurrentTenant() tenantId: string,
    @Body() body: CreateTaskDto,
    @Headers('idempotency-key') headerKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    body.idempotencyKey = idempotencyKeyOf(headerKey, body.idempotencyKey);
    const { tasks, created } = await this.producer.enqueue(tenantId, [body]);
    void reply.status(created[0] ? HttpStatus.ACCEPTED : HttpStatus.OK).header('location', `/v1/tasks/${tasks[0].id}`);
    return toTaskView(tasks[0]);
  }

  @Post('batch')
  @RequireScopes('tasks:write')
  @ApiOperation({ operationId: 'enqueueTasks', summary: 'Enqueue up to 1000 tasks at once, all or none' })
  @ApiResponse({ status: 202, type: TaskBatchView })
  @HttpCode(HttpStatus.ACCEPTED)
  async createBatch(@CurrentTenant() tenantId: string, @Body() body: CreateTaskBatchDto) {
    const { tasks } = await this.producer.enqueue(tenantId, body.tasks);
    return { tasks: tasks.map(toTaskView) };
  }

  /** Bulk retry of a filter, e.g. everything in the dead-letter inbox (`status: failed`). */
  @Post('retry')
  @RequireScopes('tasks:write')
  @ApiOperation({ operationId: 'retryTasks', summary: 'Retry the tasks matching a filter (default: failed)' })
  @ApiResponse({ status: 202, type: RetriedTasksView })
  @HttpCode(HttpStatus.ACCEPTED)
  async retryMany(@CurrentTenant() tenantId: string, @Body() body: RetryTasksDto) {
    // The older shape of `POST /v1/tasks/bulk/retry` by filter: ids retried, ids skipped.
    const { done, skipped } = await this.bulk.retry(tenantId, { filter: { type: body.type, status: body.status ?? 'failed' }, limit: body.limit ?? 100 });
    return { retried: done, skipped: skipped.map((skip) => skip.id) };
  }

  /** An admin key lists the system tenant's tasks (the housekeeping runs) with its own. */
  @Get()
  @RequireScopes('tasks:read')
  @ApiOperation({ operationId: 'listTasks', summary: 'List tasks, newest first, a page at a time' })
  @ApiResponse({ status: 200, type: TaskListView })
  async list(@ReadableTenants() tenants: string[], @Query() query: ListTasksQuery) {
    const limit = query.limit ?? DEFAULT_PAGE;
    const filter = {
      tenantId: tenants,
      type: query.type,
      status: query.status,
      tag: query.tag,
      parentId: query.parentId,
      rootId: query.rootId,
      scheduleId: query.scheduleId,
      createdAfter: query.createdAfter,
      createdBefore: query.createdBefore,
      errorCode: query.errorCode,
      text: query.q,
      before: query.cursor ? decodeCursor(query.cursor) : undefined,
    };
    // A text search scans a bounded window per page; the next page starts below it.
    const floor = filter.text ? await this.ledger.scanFloor(filter, SEARCH_WINDOW) : undefined;
    // One extra row tells whether another page exists without a COUNT.
    const rows = await this.ledger.list({ ...filter, atLeast: floor, limit: limit + 1 });
    const page = rows.slice(0, limit);
    const next = rows.length > limit ? page[page.length - 1].id : floor;
    return { tasks: page.map(toTaskView), nextCursor: next ? encodeCursor(next) : null };
  }

  @Get(':id')
  @RequireScopes('tasks:read')
  @ApiOperation({ operationId: 'getTask', summary: 'Get a task with its first follow-ups' })
  @ApiResponse({ status: 200, type: TaskDetailView })
  async get(@ReadableTenants() tenants: string[], @TaskId() id: string) {
    const task = await this.ledger.findByAnyId(tenants, id);
    if (!task) throw taskNotFound();
    // The first page of its follow-ups; `GET /v1/tasks?parentId=` pages through all of them.
    const children = await this.ledger.list({ tenantId: task.tenantId, parentId: task.id, limit: CHILDREN_SHOWN + 1 });
    return {
      ...toTaskView(task),
      children: children.slice(0, CHILDREN_SHOWN).map(({ id: childId, type, status }) => ({ id: childId, type, status })),
      moreChildren: children.length > CHILDREN_SHOWN,
    };
  }

  /** Reorders a task that has not started among the waiting ones. */
  @Patch(':id')
  @RequireScopes('tasks:write')
  @ApiOperation({ operationId: 'updateTask' })
  @ApiResponse({ status: 200, type: TaskView, description: 'The task with its new priority' })
  @ApiResponse({ status: 409, description: 'TASK_NOT_WAITING: it is running or has ended' })
  async update(@CurrentTenant() tenantId: string, @TaskId() id: string, @Body() body: UpdateTaskDto): Promise<TaskView> {
    return toTaskView(await this.control.changePriority(tenantId, await this.ledgerId(tenantId, id), body.priority));
  }

  @Get(':id/logs')
  @RequireScopes('tasks:read')
  @ApiResponse({ status: 200, type: TaskLogPageView, description: 'The lines its handler logged with `ctx.log`, oldest first, per attempt with `?attempt=`' })
  async logs(@ReadableTenants() tenants: string[], @TaskId() id: string, @Query() query: TaskLogsQuery): Promise<TaskLogPageView> {
    const task = await this.ledger.findByAnyId(tenants, id);
    if (!task) throw taskNotFound();
    const limit = query.limit ?? DEFAULT_LOG_PAGE;
    const lines = await this.logReader.page(task.id, { attempt: query.attempt, after: query.cursor ? decodeCursor(query.cursor) : undefined, limit });
    // A running task may log more: the last line is where a client polls from.
    const more = lines.length === limit || !isTerminal(task.status);
    return { lines: lines.map(toTaskLogLineView), nextCursor: more && lines.length > 0 ? encodeCursor(lines[lines.length - 1].id) : null };
  }

  @Get(':id/events')
  @RequireScopes('tasks:read')
  @ApiOperation({ operationId: 'streamTaskEvents', summary: 'Follow a task as Server-Sent Events' })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this event id (a row version)' })
  @ApiResponse({
    status: 200,
    content: { 'text/event-stream': { schema: { type: 'string', example: 'id: 3\nevent: status\ndata: {"id":"…","status":"active",…}\n\n' } } },
    description: 'text/event-stream: `status` and `progress` events until the task is terminal; event ids are row versions, so `Last-Event-ID` resumes',
  })
  @ApiResponse({ status: 429, description: 'TOO_MANY_STREAMS: the key or the API process holds as many streams as allowed; see Retry-After' })
  async events(
    @CurrentTenant() tenantId: string,
    @TaskId() id: string,
    @Req() request: FastifyRequest & { principal?: Principal },
    @Res() reply: FastifyReply,
  ) {
    // The slot first: a client at its cap costs no database read.
    const release = this.streams.reserve(request.principal?.keyId ?? `tenant:${tenantId}`);
    try {
      const task = await this.ledger.findByAnyId(tenantId, id);
      if (!task) throw taskNotFound();
      const lastEventId = request.headers['last-event-id'];
      streamTaskEvents(reply, this.streams, task, release, typeof lastEventId === 'string' ? lastEventId : undefined);
    } catch (error) {
      release();
      throw error;
    }
  }

  /** 200 when the task is cancelled now; 202 when a running task has been told to stop. */
  @Post(':id/cancel')
  @RequireScopes('tasks:write')
  @ApiOperation({ operationId: 'cancelTask', summary: 'Cancel a task' })
  @ApiResponse({ status: 200, type: CancelledTaskView, description: 'Cancelled now (it was waiting)' })
  @ApiResponse({ status: 202, type: CancelledTaskView, description: 'Running: its worker has been told to stop; follow /events' })
  @ApiResponse({ status: 409, description: 'TASK_TERMINAL: already finished' })
  async cancel(@CurrentTenant() tenantId: string, @TaskId() id: string, @Res({ passthrough: true }) reply: FastifyReply) {
    const { outcome, task } = await this.control.cancel(tenantId, await this.ledgerId(tenantId, id));
    void reply.status(outcome === 'cancelled' ? HttpStatus.OK : HttpStatus.ACCEPTED);
    return { ...toTaskView(task), cancellation: outcome };
  }

  @Post(':id/retry')
  @RequireScopes('tasks:write')
  @ApiOperation({ operationId: 'retryTask', summary: 'Run a failed, cancelled or expired task again' })
  @ApiResponse({ status: 202, type: TaskView })
  @ApiResponse({ status: 409, description: 'TASK_NOT_RETRYABLE: only failed, cancelled or expired tasks run again' })
  @HttpCode(HttpStatus.ACCEPTED)
  async retry(@CurrentTenant() tenantId: string, @TaskId() id: string) {
    return toTaskView(await this.control.retry(tenantId, await this.ledgerId(tenantId, id)));
  }

  /** The ledger id of a task named by either of its ids. */
  private async ledgerId(tenantId: string, id: string): Promise<string> {
    const task = await this.ledger.findByAnyId(tenantId, id);
    if (!task) throw taskNotFound();
    return task.id;
  }
}
