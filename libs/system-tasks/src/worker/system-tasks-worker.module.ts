import { Module } from '@nestjs/common';
import { TaskContractsModule } from '@conveyor/tasks';
import { GatherHandler } from './gather.handler';
import { LogHandler } from './log.handler';
import { NoopHandler } from './noop.handler';
import { SleepHandler } from './sleep.handler';
import { SYSTEM_TASK_TYPES } from '../system-tasks.contract';

/** The handlers of the system task types. */
@Module({
  imports: [TaskContractsModule.forFeature(SYSTEM_TASK_TYPES)],
  providers: [NoopHandler, SleepHandler, GatherHandler, LogHandler],
})
export class SystemTasksWorkerModule {}
