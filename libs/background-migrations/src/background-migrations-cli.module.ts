import { Module } from '@nestjs/common';
import { TasksCoreModule } from '@conveyor/tasks';
import { BackgroundMigrationsCoreModule } from './background-migrations-core.module';

/** Just enough of the app for `npm run bg-migrations`: the tasks core (ledger, queues) and the state changes. */
@Module({ imports: [TasksCoreModule, BackgroundMigrationsCoreModule] })
export class BackgroundMigrationsCliModule {}
