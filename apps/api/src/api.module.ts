import { Module } from '@nestjs/common';
import { AuthModule } from '@conveyor/auth';
import { HealthApiModule } from '@conveyor/health/api';
import { SystemTasksApiModule } from '@conveyor/system-tasks/api';
import { TasksCoreModule } from '@conveyor/tasks';
import { TasksApiModule } from '@conveyor/tasks/api';

/** The HTTP process: the shared core plus every domain's API module, and no processor. */
@Module({
  imports: [TasksCoreModule, AuthModule, TasksApiModule, SystemTasksApiModule, HealthApiModule],
})
export class ApiModule {}
