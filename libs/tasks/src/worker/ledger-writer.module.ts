import { Module } from '@nestjs/common';
import { CompletedJobRetention } from './completed-job-retention';
import { TaskLogWriter } from '../task-logs/task-log-writer';
import { TaskStateWriter } from './task-state-writer';

/**
 * The worker's write path to the ledger: the batched state writer, the retention that
 * keeps a completed job in Redis until the writer has committed its end, and the batched
 * writer of task logs. Shared by the runner and by the reconciler, which records ends a dead
 * worker left only in Redis.
 */
@Module({
  providers: [TaskStateWriter, CompletedJobRetention, TaskLogWriter],
  exports: [TaskStateWriter, CompletedJobRetention, TaskLogWriter],
})
export class LedgerWriterModule {}
