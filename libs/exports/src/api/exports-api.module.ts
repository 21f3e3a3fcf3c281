import { Module } from '@nestjs/common';
import { TaskContractsModule } from '@conveyor/tasks';
import { TasksApiModule } from '@conveyor/tasks/api';
import { EXPORT_TASK_TYPES } from '../exports.contract';
import { ExportsController } from './exports.controller';
import { ExportsService } from './exports.service';

/** `export.create` for the API (validation, task types) and the /v1/exports routes. */
@Module({
  imports: [TasksApiModule, TaskContractsModule.forFeature(EXPORT_TASK_TYPES)],
  controllers: [ExportsController],
  providers: [ExportsService],
})
export class ExportsApiModule {}
