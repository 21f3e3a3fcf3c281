import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { FileEntity, FilesModule } from '@conveyor/files';
import { TaskContractsModule } from '@conveyor/tasks';
import { EXPORT_TASK_TYPES } from '../exports.contract';
import { ExportCreateHandler } from './export-create.handler';
import { ExportRetention } from './export-retention.service';

/** The `export.create` processor and the retention of export files. */
@Module({
  imports: [FilesModule, TypeOrmModule.forFeature([FileEntity]), TaskContractsModule.forFeature(EXPORT_TASK_TYPES)],
  providers: [ExportCreateHandler, ExportRetention],
  exports: [ExportRetention],
})
export class ExportsWorkerModule {}
