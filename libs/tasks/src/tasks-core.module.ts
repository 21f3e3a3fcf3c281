import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfigModule } from '@conveyor/config';
import { DatabaseModule } from '@conveyor/database';
import { MetricsModule, ObservabilityLoggerModule } from '@conveyor/observability';
import { QueueModule } from '@conveyor/queue';
import { TaskTypeRegistry } from './contracts/task-type.registry';
import { CommitEffectsRelay } from './flows/commit-effects.relay';
import { FlowSettler } from './flows/flow-settler';
import { JobRelay } from './intake/job-relay';
import { TaskFactory } from './intake/task-factory';
import { TaskLedgerService } from './ledger/task-ledger.service';
import { TaskChangeFeed } from './task-change-feed';
import { TaskEntity } from './ledger/task.entity';

/**
 * What every Conveyor process runs on: validated config, logs and metrics, the ledger
 * database, the BullMQ root, the ledger service, the contracts registry, and the task factory
 * and job relay every producer shares, and the flow rules both sides apply. The API adds the
 * API modules on top, the worker the worker modules.
 */
@Global()
@Module({
  imports: [AppConfigModule, ObservabilityLoggerModule, MetricsModule, DatabaseModule, QueueModule, TypeOrmModule.forFeature([TaskEntity])],
  providers: [TaskTypeRegistry, TaskLedgerService, TaskFactory, JobRelay, FlowSettler, CommitEffectsRelay, TaskChangeFeed],
  exports: [TaskTypeRegistry, TaskLedgerService, TaskFactory, JobRelay, FlowSettler, CommitEffectsRelay, TaskChangeFeed, TypeOrmModule],
})
export class TasksCoreModule {}
