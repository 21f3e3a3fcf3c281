import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { NestedDto, PageQuery } from '@conveyor/http';
import { TaskTemplateDto } from '@conveyor/tasks/api';
import { IsInstant } from '@conveyor/tasks';
import { MAX_CATCH_UP_LIMIT, MISSED_POLICIES, OVERLAP_POLICIES, type MissedPolicy, type OverlapPolicy, type TaskTemplate } from '../schedule-policy';

const ONE_YEAR_MS = 365 * 24 * 3600 * 1000;

/** The task each tick creates: the template fields of `POST /v1/tasks`, with the same rules. */
export class ScheduleTaskDto extends TaskTemplateDto implements TaskTemplate {}

/** Body of `PATCH /v1/schedules/:id`: any field of a schedule; `null` clears cron, everyMs, startAt, endAt. */
export class UpdateScheduleDto {
  /** 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first). Exactly one of cron and everyMs. */
  @IsOptional()
  @IsString()
  @MaxLength(128)
  cron?: string | null;

  /** A tick every this many ms (at least 1000), counted from startAt or the creation time. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(ONE_YEAR_MS)
  everyMs?: number | null;

  /** IANA zone the cron is read in (default UTC). */
  @IsOptional()
  @IsString()
  @MaxLength(64)
  timezone?: string;

  @IsOptional()
  @NestedDto(() => ScheduleTaskDto, {})
  task?: ScheduleTaskDto;

  /** allow (default): always run; skip: no new run while one is unfinished; queue-one: at most one waiting besides the running one. */
  @IsOptional()
  @IsIn(OVERLAP_POLICIES)
  overlap?: OverlapPolicy;

  /** After downtime: skip (default): drop missed ticks; run-once: one run for them; catch-up: one per tick, up to catchUpLimit. */
  @IsOptional()
  @IsIn(MISSED_POLICIES)
  missed?: MissedPolicy;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_CATCH_UP_LIMIT)
  catchUpLimit?: number;

  /** RFC 3339 with an offset: no tick before it. */
  @IsOptional()
  @IsInstant()
  startAt?: string | null;

  /** RFC 3339 with an offset: no tick after it. */
  @IsOptional()
  @IsInstant()
  endAt?: string | null;

  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

/** Body of `POST /v1/schedules`. */
export class CreateScheduleDto extends UpdateScheduleDto {
  @NestedDto(() => ScheduleTaskDto, {})
  declare task: ScheduleTaskDto;
}

export class ListSchedulesQuery extends PageQuery {}
