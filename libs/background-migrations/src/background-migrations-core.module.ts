import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TaskContractsModule } from '@conveyor/tasks';
import { BackgroundMigrationBatchEntity, BackgroundMigrationEntity } from './background-migration.entity';
import { BACKGROUND_MIGRATION_TASK_TYPES } from './background-migrations.contract';
import { BackgroundMigrationsService } from './background-migrations.service';

/** What the API, the worker and the CLI share: the state tables, the step task type, the state changes. */
@Module({
  imports: [
    TypeOrmModule.forFeature([BackgroundMigrationEntity, BackgroundMigrationBatchEntity]),
    TaskContractsModule.forFeature(BACKGROUND_MIGRATION_TASK_TYPES),
  ],
  providers: [BackgroundMigrationsService],
  exports: [BackgroundMigrationsService, TypeOrmModule],
})
export class BackgroundMigrationsCoreModule {}
