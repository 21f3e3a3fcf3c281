import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TenantSlots } from '../fairness/tenant-slots';
import { FlowChildren } from '../flows/flow-children';
import { ConcurrencyAutoscaler } from './autoscale/concurrency-autoscaler';
import { LedgerWriterModule } from './ledger-writer.module';
import { TaskMaintenanceModule } from './maintenance/task-maintenance.module';
import { QueueSettingsApplier } from './queue-settings.applier';
import { TaskCancellationListener } from './task-cancellation.listener';
import { TaskRunner } from './task-runner';
import { TaskWorkerHost } from './task-worker.host';
import { WorkerRecycler } from './worker-recycler';

/** The processing runtime: BullMQ workers, the task runner and the batched ledger writer. */
@Module({
  imports: [DiscoveryModule, LedgerWriterModule, TaskMaintenanceModule],
  providers: [TaskRunner, TaskWorkerHost, QueueSettingsApplier, TaskCancellationListener, FlowChildren, TenantSlots, ConcurrencyAutoscaler, WorkerRecycler],
  exports: [LedgerWriterModule, TaskWorkerHost, TaskMaintenanceModule, ConcurrencyAutoscaler, WorkerRecycler],
})
export class TasksWorkerModule {}
