import { Module } from '@nestjs/common';
import { BackgroundMigrationsWorkerModule } from '@conveyor/background-migrations/worker';
import { ExportsWorkerModule } from '@conveyor/exports/worker';
import { FileCleaningWorkerModule } from '@conveyor/file-cleaning/worker';
import { HealthWorkerModule } from '@conveyor/health/worker';
import { SchedulesWorkerModule } from '@conveyor/schedules/worker';
import { SystemTasksWorkerModule } from '@conveyor/system-tasks/worker';
import { TasksCoreModule } from '@conveyor/tasks';
import { TasksWorkerModule } from '@conveyor/tasks/worker';
import { WebhooksWorkerModule } from '@conveyor/webhooks/worker';

/** The processing process: the shared core plus every domain's worker module, and no controller. */
@Module({
  imports: [
    TasksCoreModule,
    TasksWorkerModule,
    SystemTasksWorkerModule,
    FileCleaningWorkerModule,
    ExportsWorkerModule,
    HealthWorkerModule,
    SchedulesWorkerModule,
    WebhooksWorkerModule,
    BackgroundMigrationsWorkerModule,
  ],
})
export class WorkerModule {}
