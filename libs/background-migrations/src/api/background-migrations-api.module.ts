import { Module } from '@nestjs/common';
import { BackgroundMigrationsCoreModule } from '../background-migrations-core.module';
import { BackgroundMigrationsController } from './background-migrations.controller';

/** The admin HTTP API of background migrations; batches run in the worker. */
@Module({
  imports: [BackgroundMigrationsCoreModule],
  controllers: [BackgroundMigrationsController],
})
export class BackgroundMigrationsApiModule {}
