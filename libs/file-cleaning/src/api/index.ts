export * from './file-cleaning-api.module';
