import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { DomainError } from '@conveyor/errors';
import { SYSTEM_TENANT } from '@conveyor/http';
import { JobRelay, TaskEntity, TaskFactory, type PreparedTask } from '@conveyor/tasks';
import { declaredMigration, declaredMigrations, isMigrationName } from './background-migration';
import { BackgroundMigrationEntity } from './background-migration.entity';
import { BACKGROUND_MIGRATION_STEP, type MigrationStatus } from './background-migrations.contract';
import { isStalled, type MigrationState } from './migration-state';

export type MigrationAction = 'start' | 'pause' | 'resume' | 'retry';

/** From which states each action may go (a stalled running chain may also be resumed). */
const ALLOWED: Record<MigrationAction, readonly MigrationStatus[]> = {
  start: ['pending'],
  pause: ['running'],
  resume: ['paused'],
  retry: ['failed'],
};

export function migrationNotFound(name: string): DomainError {
  return DomainError.notFound('BACKGROUND_MIGRATION_NOT_FOUND', `No background migration "${name}" is declared`);
}

/**
 * The state changes of background migrations, shared by the admin API and the CLI. Each runs
 * in one transaction on the migration's locked row; one that sets the migration running also
 * writes the first step of a new chain (a ledger row, the outbox) in that transaction, and
 * queues its job after the commit. If that add is lost, the reconciler adds the job; if the
 * process dies before the commit, nothing changed.
 */
@Injectable()
export class BackgroundMigrationsService {
  private readonly logger = new Logger(BackgroundMigrationsService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly factory: TaskFactory,
    private readonly relay: JobRelay,
  ) {}

  /** Every declared migration, and any with state whose code is gone, by name. */
  async list(): Promise<MigrationState[]> {
    const rows = await this.dataSource.getRepository(BackgroundMigrationEntity).find();
    const byName = new Map(rows.map((row) => [row.name, row]));
    const names = new Set([...declaredMigrations().map((d) => d.name), ...byName.keys()]);
    return [...names].sort().map((name) => ({ name, definition: declaredMigration(name), row: byName.get(name) ?? null }));
  }

  async get(name: string): Promise<MigrationState> {
    // A NUL byte or an over-long name would fail in the driver (a 500), not find nothing.
    if (!isMigrationName(name)) throw migrationNotFound(name);
    const row = await this.dataSource.getRepository(BackgroundMigrationEntity).findOneBy({ name });
    const definition = declaredMigration(name);
    if (!row && !definition) throw migrationNotFound(name);
    return { name, definition, row };
  }

  /** Applies an action; 404 for a name the code does not declare, 409 when the state does not allow it. */
  async apply(name: string, action: MigrationAction): Promise<MigrationState> {
    const definition = declaredMigration(name);
    if (!definition) throw migrationNotFound(name);
    const now = new Date();
    const { row, step } = await this.dataSource.transaction('READ COMMITTED', async (manager) => {
      const locked = await this.lockOrCreate(manager, name, now);
      this.check(locked, action, now);
      const change = this.changeFor(locked, action, now);
      await manager.getRepository(BackgroundMigrationEntity).update({ name }, change);
      const updated = Object.assign(locked, change);
      const prepared = updated.status === 'running' ? await this.firstStep(manager, updated) : undefined;
      return { row: updated, step: prepared };
    });
    if (step) {
      const [outcome] = await this.relay.add([step]);
      if (outcome !== 'added')
        this.logger.warn({ migration: name, taskId: step.row.id, outcome }, 'first step not confirmed by Redis; the reconciler queues it');
    }
    this.logger.log({ migration: name, action, status: row.status, generation: row.generation }, 'background migration changed');
    return { name, definition, row };
  }

  private check(row: BackgroundMigrationEntity, action: MigrationAction, now: Date): void {
    const status = row.status;
    if (ALLOWED[action].includes(status)) return;
    if (action === 'resume' && isStalled(row, this.config, now.getTime())) return;
    if (status === 'completed') throw DomainError.conflict('MIGRATION_FINISHED', `Background migration "${row.name}" has completed`);
    throw DomainError.conflict('MIGRATION_WRONG_STATE', `Cannot ${action} background migration "${row.name}": it is ${status}`, [
      { field: 'status', message: status },
    ]);
  }

  private changeFor(row: BackgroundMigrationEntity, action: MigrationAction, now: Date): Partial<BackgroundMigrationEntity> {
    if (action === 'pause') return { status: 'paused', pausedAt: now, nextStepAt: null, updatedAt: now };
    // start, resume, retry: a new chain (generation) from the checkpoint, measured afresh.
    return {
      status: 'running',
      generation: row.generation + 1,
      consecutiveFailures: 0,
      startedAt: row.startedAt ?? now,
      pausedAt: null,
      segmentStartedAt: now,
      segmentRows: 0,
      nextStepAt: now,
      updatedAt: now,
    };
  }

  /** The migration's row, locked; created `pending` first if it has none yet. */
  private async lockOrCreate(manager: EntityManager, name: string, now: Date): Promise<BackgroundMigrationEntity> {
    const repository = manager.getRepository(BackgroundMigrationEntity);
    await repository
      .createQueryBuilder()
      .insert()
      .values({
        name,
        status: 'pending',
        generation: 0,
        checkpoint: null,
        rowsProcessed: 0,
        rowsTotal: null,
        batches: 0,
        failures: 0,
        consecutiveFailures: 0,
        lastError: null,
        segmentRows: 0,
        createdAt: now,
        updatedAt: now,
      })
      .orIgnore()
      .execute();
    return repository.createQueryBuilder('m').setLock('pessimistic_write').where('m.name = :name', { name }).getOneOrFail();
  }

  /** The first step of the row's current generation, written in this transaction (the row lock makes it the only one). */
  private async firstStep(manager: EntityManager, row: BackgroundMigrationEntity): Promise<PreparedTask> {
    const [prepared] = await this.factory.prepare(SYSTEM_TENANT, [
      { type: BACKGROUND_MIGRATION_STEP.type, payload: { name: row.name, generation: row.generation } },
    ]);
    // A whole row built by the factory (its JSON columns are `unknown`, which TypeORM's insert type cannot express).
    await manager.getRepository(TaskEntity).insert(prepared.row as QueryDeepPartialEntity<TaskEntity>);
    return prepared;
  }
}
