import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { FlowChildren } from '../flows/flow-children';
import { TaskMaintenanceModule } from './maintenance/task-maintenance.module';
import { TaskCancellationListener } from './task-cancellation.listener';
import { TaskRunner } from './task-runner';
import { TaskStateWriter } from './task-state-writer';
import { TaskWorkerHost } from './task-worker.host';

/** The processing runtime: BullMQ workers, the task runner and the batched ledger writer. */
@Module({
  imports: [DiscoveryModule, TaskMaintenanceModule],
  providers: [TaskStateWriter, TaskRunner, TaskWorkerHost, TaskCancellationListener, FlowChildren],
  exports: [TaskStateWriter, TaskWorkerHost, TaskMaintenanceModule],
})
export class TasksWorkerModule {}
