import { Module } from '@nestjs/common';
import { BackgroundMigrationsCoreModule } from '../background-migrations-core.module';
import { BackgroundMigrationHandler } from './background-migration.handler';
import { MigrationRunner } from './migration-runner';

/** The worker side: the step handler (on the `maintenance` queue) and the batch runner. */
@Module({
  imports: [BackgroundMigrationsCoreModule],
  providers: [MigrationRunner, BackgroundMigrationHandler],
  exports: [MigrationRunner],
})
export class BackgroundMigrationsWorkerModule {}
