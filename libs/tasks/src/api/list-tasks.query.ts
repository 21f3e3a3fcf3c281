import { IntersectionType } from '@nestjs/swagger';
import { PageQuery } from '@conveyor/http';
import { TaskFilters } from '../ledger/task-filters.dto';

/** `GET /v1/tasks`: the task filters and a page. */
export class ListTasksQuery extends IntersectionType(TaskFilters, PageQuery) {}
