import { Module } from '@nestjs/common';
import { TaskContractsModule } from '@conveyor/tasks';
import { TasksApiModule } from '@conveyor/tasks/api';
import { FILE_CLEANING_TASK_TYPES } from '../file-cleaning.contract';
import { CleaningJobsController } from './cleaning-jobs.controller';
import { CleaningJobs } from './cleaning-jobs.service';

/** `file.clean` for the API (validation, task types) and the one-call cleaning-jobs route. */
@Module({
  imports: [TasksApiModule, TaskContractsModule.forFeature(FILE_CLEANING_TASK_TYPES)],
  controllers: [CleaningJobsController],
  providers: [CleaningJobs],
})
export class FileCleaningApiModule {}
