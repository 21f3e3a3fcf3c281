// Background migrations: declared in code, state and checkpoints in SQL, run by the worker as
// chains of `system.background-migration` tasks. The HTTP side is
// `@conveyor/background-migrations/api`, the processing side `@conveyor/background-migrations/worker`.
export * from './background-migration';
export * from './background-migration.entity';
export * from './background-migrations.contract';
export * from './background-migrations-core.module';
export * from './background-migrations.service';
export * from './background-migrations-cli.module';
export * from './migration-state';
export * from './migrations/task-duration.migration';
