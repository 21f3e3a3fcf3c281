import { Module } from '@nestjs/common';
import { AppConfigModule } from '@conveyor/config';
import { DatabaseModule } from '@conveyor/database';
import { HealthModule } from '@conveyor/health';
import { MetricsModule, ObservabilityLoggerModule } from '@conveyor/observability';
import { QueueModule } from '@conveyor/queue';
import { SystemTasksApiModule } from '@conveyor/system-tasks';
import { TasksApiModule, TasksCoreModule } from '@conveyor/tasks';

/** The HTTP process: every domain's API module, and no processor. */
@Module({
  imports: [
    AppConfigModule,
    ObservabilityLoggerModule,
    MetricsModule,
    DatabaseModule,
    QueueModule,
    TasksCoreModule,
    TasksApiModule,
    SystemTasksApiModule,
    HealthModule.forApi(),
  ],
})
export class ApiModule {}
