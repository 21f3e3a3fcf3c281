import { Module } from '@nestjs/common';
import { AppConfigModule } from '@conveyor/config';
import { DatabaseModule } from '@conveyor/database';
import { HealthWorkerModule } from '@conveyor/health/worker';
import { MetricsModule, ObservabilityLoggerModule } from '@conveyor/observability';
import { QueueModule } from '@conveyor/queue';
import { SystemTasksWorkerModule } from '@conveyor/system-tasks/worker';
import { TasksCoreModule } from '@conveyor/tasks';
import { TasksWorkerModule } from '@conveyor/tasks/worker';

/** The processing process: every domain's worker module, and no controller. */
@Module({
  imports: [
    AppConfigModule,
    ObservabilityLoggerModule,
    MetricsModule,
    DatabaseModule,
    QueueModule,
    TasksCoreModule,
    TasksWorkerModule,
    SystemTasksWorkerModule,
    HealthWorkerModule,
  ],
})
export class WorkerModule {}
