import { Module } from '@nestjs/common';
import { FilesModule } from '@conveyor/files';
import { TaskContractsModule } from '@conveyor/tasks';
import { FILE_CLEANING_TASK_TYPES } from '../file-cleaning.contract';
import { FileCleanHandler } from './file-clean.handler';

/** The `file.clean` processor. */
@Module({
  imports: [FilesModule, TaskContractsModule.forFeature(FILE_CLEANING_TASK_TYPES)],
  providers: [FileCleanHandler],
})
export class FileCleaningWorkerModule {}
