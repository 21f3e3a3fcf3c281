import { Module } from '@nestjs/common';
import { AppConfigModule } from '@conveyor/config';
import { DatabaseModule } from '@conveyor/database';
import { HealthApiModule } from '@conveyor/health/api';
import { MetricsModule, ObservabilityLoggerModule } from '@conveyor/observability';
import { QueueModule } from '@conveyor/queue';
import { SystemTasksApiModule } from '@conveyor/system-tasks/api';
import { TasksCoreModule } from '@conveyor/tasks';
import { TasksApiModule } from '@conveyor/tasks/api';

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
    HealthApiModule,
  ],
})
export class ApiModule {}
