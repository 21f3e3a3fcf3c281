import { Module } from '@nestjs/common';
import { FilesModule } from '@conveyor/files';
import { TaskContractsModule } from '@conveyor/tasks';
import { FILE_CLEANING_TASK_TYPES } from '../file-cleaning.contract';
import { FileChecksumHandler } from './file-checksum.handler';
import { FileCleanHandler } from './file-clean.handler';

/** The handlers of `file.clean` and `file.checksum`. */
@Module({
  imports: [FilesModule, TaskContractsModule.forFeature(FILE_CLEANING_TASK_TYPES)],
  providers: [FileCleanHandler, FileChecksumHandler],
})
export class FileCleaningWorkerModule {}
