export * from './export-view.dto';
export * from './exports-api.module';
