import { Body, Controller, Get, HttpCode, HttpStatus, Param, ParseUUIDPipe, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiError, CurrentTenant } from '@conveyor/http';
import { TaskLedgerService } from '../ledger/task-ledger.service';
import { CreateTaskBatchDto, CreateTaskDto } from './create-task.dto';
import { ListTasksQuery } from './list-tasks.query';
import { TaskProducer } from './task-producer.service';
import { toTaskView } from './task.view';

const DEFAULT_PAGE = 50;

const encodeCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url');
function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[0-9a-f-]{36}$/.test(id)) throw ApiError.badRequest('INVALID_CURSOR', 'The cursor is not one this API issued');
  return id;
}

@Controller('v1/tasks')
export class TasksController {
  constructor(
    private readonly producer: TaskProducer,
    private readonly ledger: TaskLedgerService,
  ) {}

  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  async create(
    @CurrentTenant() tenantId: string,
    @Body() body: CreateTaskDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const [task] = await this.producer.enqueue(tenantId, [body]);
    void reply.header('location', `/v1/tasks/${task.id}`);
    return toTaskView(task);
  }

  @Post('batch')
  @HttpCode(HttpStatus.ACCEPTED)
  async createBatch(@CurrentTenant() tenantId: string, @Body() body: CreateTaskBatchDto) {
    const tasks = await this.producer.enqueue(tenantId, body.tasks);
    return { tasks: tasks.map(toTaskView) };
  }

  @Get()
  async list(@CurrentTenant() tenantId: string, @Query() query: ListTasksQuery) {
    const limit = query.limit ?? DEFAULT_PAGE;
    // One extra row tells whether another page exists without a COUNT.
    const rows = await this.ledger.list({
      tenantId,
      type: query.type,
      status: query.status,
      tag: query.tag,
      before: query.cursor ? decodeCursor(query.cursor) : undefined,
      limit: limit + 1,
    });
    const page = rows.slice(0, limit);
    return {
      tasks: page.map(toTaskView),
      nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1].id) : null,
    };
  }

  @Get(':id')
  async get(
    @CurrentTenant() tenantId: string,
    @Param('id', new ParseUUIDPipe({ exceptionFactory: () => notFound() })) id: string,
  ) {
    const task = await this.ledger.findOne(tenantId, id);
    if (!task) throw notFound();
    return toTaskView(task);
  }
}

function notFound(): ApiError {
  return ApiError.notFound('TASK_NOT_FOUND', 'No such task');
}
