// Files: storage drivers and metadata, shared by both apps. HTTP routes: `@conveyor/files/api`;
// the S3 driver (loaded only when configured): `@conveyor/files/s3`.
export * from './file.entity';
export * from './file-view';
export * from './file-view.dto';
export * from './files.module';
export * from './files.service';
export * from './storage/file-storage';
export * from './storage/local-file-storage';
