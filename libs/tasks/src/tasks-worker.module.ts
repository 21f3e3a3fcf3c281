import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TaskStateWriter } from './ledger/task-state-writer';
import { TaskRunner } from './worker/task-runner';
import { TaskWorkerHost } from './worker/task-worker.host';

/** The processing runtime: BullMQ workers, the task runner and the batched ledger writer. */
@Module({
  imports: [DiscoveryModule],
  providers: [TaskStateWriter, TaskRunner, TaskWorkerHost],
  exports: [TaskStateWriter, TaskWorkerHost],
})
export class TasksWorkerModule {}
