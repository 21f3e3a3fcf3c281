export * from './data-source-options';
export * from './database.module';
export * from './dialect';
export * from './run-migrations';
export { MIGRATIONS } from './migrations';
export * from './errors';
