import { Global, Module, type OnModuleDestroy, Inject } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { FileEntity } from './file.entity';
import { FilesService } from './files.service';
import { FILE_STORAGE, type FileStorage } from './storage/file-storage';
import { LocalFileStorage } from './storage/local-file-storage';
import { S3FileStorage } from './storage/s3-file-storage';

export function createFileStorage(config: AppConfig): FileStorage {
  return config.storage.driver === 's3' ? new S3FileStorage(config.storage.s3!) : new LocalFileStorage(config.storage.dir);
}

/** File storage (local directory or S3-compatible, by STORAGE_DRIVER) and file metadata; both apps use it. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([FileEntity])],
  providers: [{ provide: FILE_STORAGE, inject: [APP_CONFIG], useFactory: createFileStorage }, FilesService],
  exports: [FILE_STORAGE, FilesService],
})
export class FilesModule implements OnModuleDestroy {
  constructor(@Inject(FILE_STORAGE) private readonly storage: FileStorage) {}

  onModuleDestroy(): void {
    if (this.storage instanceof S3FileStorage) this.storage.destroy();
  }
}
