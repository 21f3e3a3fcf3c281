import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfigModule, type AppConfig } from '@conveyor/config';
import { DatabaseModule } from '@conveyor/database';
import { ErrorReportingModule, MetricsModule, ObservabilityLoggerModule } from '@conveyor/observability';
import { QueueModule } from '@conveyor/queue';
import { TaskTypeRegistry } from './contracts/task-type.registry';
import { CommitEffectsRelay } from './flows/commit-effects.relay';
import { FlowSettler } from './flows/flow-settler';
import { FairOrdering } from './fairness/fair-ordering';
import { JobRelay } from './intake/job-relay';
import { TaskFactory } from './intake/task-factory';
import { TaskLedgerService } from './ledger/task-ledger.service';
import { TaskChangeFeed } from './task-change-feed';
import { TaskEntity } from './ledger/task.entity';
import { QueueSettingsStore } from './queue-settings/queue-settings.store';
import { TaskLogEntity } from './task-logs/task-log.entity';
import { LostJobRequeuer } from './recovery/lost-job-requeuer';
import { LostJobsRepository } from './recovery/lost-jobs.repository';
import { RegisteredQueues } from './recovery/registered-queues';

/** The registry applies the deployment's queue renames (QUEUE_NAME) to the contracts. */
const REGISTRY = { provide: TaskTypeRegistry, useFactory: (config: AppConfig) => new TaskTypeRegistry(config.queueNames), inject: [APP_CONFIG] };

const CORE_PROVIDERS = [
  REGISTRY,
  TaskLedgerService,
  TaskFactory,
  FairOrdering,
  JobRelay,
  FlowSettler,
  CommitEffectsRelay,
  TaskChangeFeed,
  LostJobsRepository,
  LostJobRequeuer,
  RegisteredQueues,
  QueueSettingsStore,
];

/**
 * What every Conveyor process runs on: validated config, logs, metrics and error reporting, the ledger
 * database, the BullMQ root, the ledger service, the contracts registry, and the task factory
 * and job relay every producer shares, the flow rules both sides apply, and the recovery of
 * jobs Redis lost (the reconciler's and the schedule runner's). The API adds the
 * API modules on top, the worker the worker modules.
 */
@Global()
@Module({
  imports: [
    AppConfigModule,
    ObservabilityLoggerModule,
    MetricsModule,
    ErrorReportingModule,
    DatabaseModule,
    QueueModule,
    TypeOrmModule.forFeature([TaskEntity, TaskLogEntity]),
  ],
  providers: CORE_PROVIDERS,
  exports: [...CORE_PROVIDERS, TypeOrmModule],
})
export class TasksCoreModule {}
