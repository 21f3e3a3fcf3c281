// The HTTP side of background migrations; imported by the API app only.
export * from './background-migration-view.dto';
export * from './background-migrations-api.module';
export * from './background-migrations.controller';
