import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiResponse } from '@nestjs/swagger';
import { CurrentTenant, decodeCursor, encodeCursor, ReadableTenants, RequireScopes } from '@conveyor/http';
import { toTaskView } from '@conveyor/tasks/api';
import { scheduleNotFound, SchedulesService } from '../schedules.service';
import { CreateScheduleDto, ListSchedulesQuery, UpdateScheduleDto } from './schedule.dto';
import { ScheduleDetailView, ScheduleListView, ScheduleView, toScheduleRunView, toScheduleView, TriggeredTaskView } from './schedule-view.dto';

const RUNS_SHOWN = 20;
const DEFAULT_PAGE = 50;

/**
 * Unknown, malformed and other tenants' ids are all "not found". An admin key also reaches the
 * system tenant's schedules (declared in code, e.g. the housekeeping ones): it reads, pauses,
 * resumes and triggers them; PATCH and DELETE answer 403 SCHEDULE_READ_ONLY.
 */
const ScheduleId = () => Param('id', new ParseUUIDPipe({ exceptionFactory: () => scheduleNotFound() }));

@Controller('v1/schedules')
export class SchedulesController {
  constructor(private readonly schedules: SchedulesService) {}

  @Post()
  @RequireScopes('tasks:write')
  @ApiResponse({ status: 201, type: ScheduleView, description: 'Created; nextRunAt is its first tick' })
  @ApiOperation({ operationId: 'createSchedule' })
  async create(@CurrentTenant() tenantId: string, @Body() body: CreateScheduleDto): Promise<ScheduleView> {
    return toScheduleView(await this.schedules.create(tenantId, body));
  }

  @Get()
  @RequireScopes('tasks:read')
  @ApiResponse({ status: 200, type: ScheduleListView })
  @ApiOperation({ operationId: 'listSchedules' })
  async list(@ReadableTenants() tenants: string[], @Query() query: ListSchedulesQuery): Promise<ScheduleListView> {
    const limit = query.limit ?? DEFAULT_PAGE;
    const rows = await this.schedules.list(tenants, limit + 1, query.cursor ? decodeCursor(query.cursor) : undefined);
    const page = rows.slice(0, limit);
    return { schedules: page.map(toScheduleView), nextCursor: rows.length > limit ? encodeCursor(page[page.length - 1].id) : null };
  }

  @Get(':id')
  @RequireScopes('tasks:read')
  @ApiResponse({ status: 200, type: ScheduleDetailView, description: 'The schedule with its latest runs and their outcome' })
  @ApiOperation({ operationId: 'getSchedule' })
  async get(@ReadableTenants() tenants: string[], @ScheduleId() id: string): Promise<ScheduleDetailView> {
    const schedule = await this.schedules.get(tenants, id);
    const runs = await this.schedules.runs(schedule, RUNS_SHOWN);
    return { ...toScheduleView(schedule), runs: runs.map(toScheduleRunView) };
  }

  @Patch(':id')
  @RequireScopes('tasks:write')
  @ApiResponse({ status: 200, type: ScheduleView })
  @ApiResponse({ status: 403, description: 'SCHEDULE_READ_ONLY: declared in code' })
  @ApiResponse({ status: 409, description: 'SCHEDULE_CHANGED: changed concurrently; send again' })
  @ApiOperation({ operationId: 'updateSchedule' })
  async update(@ReadableTenants() tenants: string[], @ScheduleId() id: string, @Body() body: UpdateScheduleDto): Promise<ScheduleView> {
    return toScheduleView(await this.schedules.update(tenants, id, body));
  }

  @Delete(':id')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiResponse({ status: 204, description: 'Deleted; its tasks stay in the ledger' })
  @ApiResponse({ status: 403, description: 'SCHEDULE_READ_ONLY: declared in code' })
  @ApiOperation({ operationId: 'deleteSchedule' })
  async remove(@ReadableTenants() tenants: string[], @ScheduleId() id: string): Promise<void> {
    await this.schedules.delete(tenants, id);
  }

  @Post(':id/pause')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.OK)
  @ApiResponse({ status: 200, type: ScheduleView, description: 'Paused: no tick fires until resumed' })
  @ApiOperation({ operationId: 'pauseSchedule' })
  async pause(@ReadableTenants() tenants: string[], @ScheduleId() id: string): Promise<ScheduleView> {
    return toScheduleView(await this.schedules.setPaused(tenants, id, true));
  }

  @Post(':id/resume')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.OK)
  @ApiResponse({ status: 200, type: ScheduleView, description: 'Resumed from now: ticks of the pause are not run' })
  @ApiOperation({ operationId: 'resumeSchedule' })
  async resume(@ReadableTenants() tenants: string[], @ScheduleId() id: string): Promise<ScheduleView> {
    return toScheduleView(await this.schedules.setPaused(tenants, id, false));
  }

  @Post(':id/trigger')
  @RequireScopes('tasks:write')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiResponse({ status: 202, type: TriggeredTaskView, description: 'One extra run now (tick = now), an ordinary task' })
  @ApiResponse({ status: 409, description: 'SCHEDULE_TICK_TAKEN: a run for this very instant exists' })
  @ApiOperation({ operationId: 'triggerSchedule' })
  async trigger(@ReadableTenants() tenants: string[], @ScheduleId() id: string) {
    return toTaskView(await this.schedules.trigger(tenants, id));
  }
}
