// The processing side of background migrations; imported by the worker app only.
export * from './background-migration.handler';
export * from './background-migrations-worker.module';
export * from './migration-runner';
