import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TaskRunner } from './task-runner';
import { TaskStateWriter } from './task-state-writer';
import { TaskWorkerHost } from './task-worker.host';

/** The processing runtime: BullMQ workers, the task runner and the batched ledger writer. */
@Module({
  imports: [DiscoveryModule],
  providers: [TaskStateWriter, TaskRunner, TaskWorkerHost],
  exports: [TaskStateWriter, TaskWorkerHost],
})
export class TasksWorkerModule {}
