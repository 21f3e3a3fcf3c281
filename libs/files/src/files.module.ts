import { Global, Module, type OnModuleDestroy, Inject } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { FileEntity } from './file.entity';
import { FilesPurgeParticipant } from './files-purge.participant';
import { FilesService } from './files.service';
import { FILE_STORAGE, type FileStorage } from './storage/file-storage';
import { LocalFileStorage } from './storage/local-file-storage';

/**
 * The configured store. The S3 driver (and with it the AWS SDK, some 30 MB of memory in every
 * process) is loaded only when STORAGE_DRIVER=s3.
 */
export async function createFileStorage(config: AppConfig): Promise<FileStorage> {
  if (config.storage.driver !== 's3') return new LocalFileStorage(config.storage.dir);
  const { S3FileStorage } = await import('./storage/s3-file-storage.js');
  return new S3FileStorage(config.storage.s3!);
}

/**
 * File storage (local directory or S3-compatible, by STORAGE_DRIVER) and file metadata; both apps
 * use it. In the worker, retention removes files through FilesPurgeParticipant.
 */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([FileEntity])],
  providers: [{ provide: FILE_STORAGE, inject: [APP_CONFIG], useFactory: createFileStorage }, FilesService, FilesPurgeParticipant],
  exports: [FILE_STORAGE, FilesService],
})
export class FilesModule implements OnModuleDestroy {
  constructor(@Inject(FILE_STORAGE) private readonly storage: FileStorage) {}

  onModuleDestroy(): void {
    this.storage.destroy?.();
  }
}
