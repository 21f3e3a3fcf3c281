import { Module } from '@nestjs/common';
import { AuthModule } from '@conveyor/auth';
import { BackgroundMigrationsApiModule } from '@conveyor/background-migrations/api';
import { ExportsApiModule } from '@conveyor/exports/api';
import { FilesModule } from '@conveyor/files';
import { FileCleaningApiModule } from '@conveyor/file-cleaning/api';
import { FilesApiModule } from '@conveyor/files/api';
import { HealthApiModule } from '@conveyor/health/api';
import { MetricsApiModule } from '@conveyor/observability/api';
import { SchedulesApiModule } from '@conveyor/schedules/api';
import { SystemTasksApiModule } from '@conveyor/system-tasks/api';
import { TasksCoreModule } from '@conveyor/tasks';
import { TasksApiModule } from '@conveyor/tasks/api';
import { WebhooksApiModule } from '@conveyor/webhooks/api';

/** The HTTP process: the shared core plus every domain's API module, and no processor. */
@Module({
  imports: [
    TasksCoreModule,
    AuthModule,
    FilesModule,
    TasksApiModule,
    FilesApiModule,
    SystemTasksApiModule,
    FileCleaningApiModule,
    ExportsApiModule,
    SchedulesApiModule,
    WebhooksApiModule,
    BackgroundMigrationsApiModule,
    HealthApiModule,
    MetricsApiModule,
  ],
})
export class ApiModule {}
