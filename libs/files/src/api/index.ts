export * from './files-api.module';
export * from './files.controller';
