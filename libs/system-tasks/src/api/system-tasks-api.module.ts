import { Module } from '@nestjs/common';
import { TaskContractsModule } from '@conveyor/tasks';
import { SYSTEM_TASK_TYPES } from '../system-tasks.contract';

/** Makes the system task types known to the API (validation, `GET /v1/task-types`). */
@Module({ imports: [TaskContractsModule.forFeature(SYSTEM_TASK_TYPES)] })
export class SystemTasksApiModule {}
