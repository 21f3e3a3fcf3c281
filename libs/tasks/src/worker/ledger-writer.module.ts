import { Module } from '@nestjs/common';
import { CompletedJobRetention } from './completed-job-retention';
import { TaskStateWriter } from './task-state-writer';

/**
 * The worker's write path to the ledger: the batched state writer and the retention that
 * keeps a completed job in Redis until the writer has committed its end. Shared by the
 * runner and by the reconciler, which records ends a dead worker left only in Redis.
 */
@Module({
  providers: [TaskStateWriter, CompletedJobRetention],
  exports: [TaskStateWriter, CompletedJobRetention],
})
export class LedgerWriterModule {}
