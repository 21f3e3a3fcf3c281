// Files: storage drivers and metadata, shared by both apps. HTTP routes: `@conveyor/files/api`.
export * from './file.entity';
export * from './file-view';
export * from './files.module';
export * from './files.service';
export * from './storage/file-storage';
export * from './storage/local-file-storage';
export * from './storage/s3-file-storage';
