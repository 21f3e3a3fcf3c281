import { Module } from '@nestjs/common';
import { AppConfigModule } from '@conveyor/config';
import { DatabaseModule } from '@conveyor/database';
import { HealthModule } from '@conveyor/health';
import { MetricsModule, ObservabilityLoggerModule } from '@conveyor/observability';
import { QueueModule } from '@conveyor/queue';
import { SystemTasksWorkerModule } from '@conveyor/system-tasks';
import { TasksCoreModule, TasksWorkerModule } from '@conveyor/tasks';

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
    HealthModule.forWorker(),
  ],
})
export class WorkerModule {}
