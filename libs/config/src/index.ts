export * from './app-config';
export * from './config.module';
export { EnvironmentSchema } from './environment.schema';
export * from './config-diagnostics';
