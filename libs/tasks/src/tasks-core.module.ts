import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TaskTypeRegistry } from './contracts/task-type.registry';
import { TaskLedgerService } from './ledger/task-ledger.service';
import { TaskEntity } from './ledger/task.entity';

/** The ledger and the contracts registry, shared by the API and the worker. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([TaskEntity])],
  providers: [TaskTypeRegistry, TaskLedgerService],
  exports: [TaskTypeRegistry, TaskLedgerService, TypeOrmModule],
})
export class TasksCoreModule {}
