import { IntersectionType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsDate, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { PageQuery } from '@conveyor/http';
import { TaskFilters } from '../ledger/task-filters.dto';

/** The search terms only the list route takes (exports filter with TaskFilters alone). */
export class TaskSearchQuery {
  /** Created at or after this instant (ISO 8601). */
  @IsOptional()
  @Type(() => Date)
  @IsDate()
  createdAfter?: Date;

  /** Created before this instant (ISO 8601). */
  @IsOptional()
  @Type(() => Date)
  @IsDate()
  createdBefore?: Date;

  /** The `code` of the task's error, e.g. a group of the failed inbox. */
  @IsOptional()
  @IsString()
  @MaxLength(128)
  errorCode?: string;

  /**
   * Case-insensitive text in the payload, result or error. A page scans at most 10,000 tasks;
   * when it finds fewer matches than `limit`, `nextCursor` continues the search further back.
   */
  @IsOptional()
  @IsString()
  @MinLength(2)
  @MaxLength(200)
  q?: string;
}

/** `GET /v1/tasks`: the task filters, the search terms and a page. */
export class ListTasksQuery extends IntersectionType(TaskFilters, TaskSearchQuery, PageQuery) {}
