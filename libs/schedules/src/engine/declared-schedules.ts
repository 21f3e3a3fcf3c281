import { Injectable, Logger } from '@nestjs/common';
import { isUniqueViolation } from '@conveyor/database';
import { ApiError } from '@conveyor/http';
import { TaskTypeRegistry, type DeclaredSchedule, type TaskTypeDefinition } from '@conveyor/tasks';
import { ScheduleDefinitions, type ScheduleFields, type ScheduleInput } from '../schedule-definitions';
import { ScheduleStore } from '../schedule-store';
import { SYSTEM_TENANT } from '../schedule-policy';
import { SchedulesService } from '../schedules.service';

export interface DeclaredReport {
  added: string[];
  changed: string[];
  removed: string[];
}

const keyOf = (definition: TaskTypeDefinition, declared: DeclaredSchedule) => `${definition.type}:${declared.id}`;

function inputOf(definition: TaskTypeDefinition, declared: DeclaredSchedule): ScheduleInput {
  return {
    cron: declared.cron ?? null,
    everyMs: declared.everyMs ?? null,
    timezone: declared.timezone ?? 'UTC',
    task: { type: definition.type, payload: declared.payload },
    overlap: declared.overlap ?? 'skip',
    missed: declared.missed ?? 'run-once',
    startAt: null,
    endAt: null,
    enabled: true,
  };
}

const FIELDS: Array<keyof ScheduleFields> = ['cron', 'everyMs', 'timezone', 'overlap', 'missed', 'enabled'];

/**
 * Makes the system tenant's schedules match the ones task types declare in code (by key
 * "<type>:<id>"): adds new ones, updates changed ones, removes the ones no longer declared.
 * Safe when several processes boot at once: a second insert of a key is refused by the unique
 * (tenant_id, key) index, and updates are compare-and-set on updated_at. A process removes only
 * schedules of task types it knows, so a process built with fewer types leaves others' alone.
 * Pausing a declared schedule through the API survives a deploy; its definition does not.
 */
@Injectable()
export class DeclaredSchedules {
  private readonly logger = new Logger(DeclaredSchedules.name);

  constructor(
    private readonly registry: TaskTypeRegistry,
    private readonly store: ScheduleStore,
    private readonly definitions: ScheduleDefinitions,
    private readonly schedules: SchedulesService,
  ) {}

  async reconcile(): Promise<DeclaredReport> {
    const report: DeclaredReport = { added: [], changed: [], removed: [] };
    const existing = new Map((await this.store.findDeclared()).map((row) => [row.key!, row]));
    const declaredKeys = new Set<string>();
    for (const definition of this.registry.all()) {
      for (const declared of definition.schedules) {
        const key = keyOf(definition, declared);
        if (declaredKeys.has(key)) throw new Error(`Schedule "${declared.id}" is declared twice for ${definition.type}`);
        declaredKeys.add(key);
        const input = inputOf(definition, declared);
        const row = existing.get(key);
        try {
          if (!row) {
            await this.schedules.create(SYSTEM_TENANT, input, key);
            report.added.push(key);
            continue;
          }
          const fields = await this.definitions.resolve(SYSTEM_TENANT, { ...input, enabled: row.enabled }, row);
          const same = FIELDS.every((name) => fields[name] === row[name]) && JSON.stringify(fields.task) === JSON.stringify(row.task);
          if (same) continue;
          await this.schedules.apply(row, fields);
          report.changed.push(key);
        } catch (error) {
          // Another process booting at the same time did the same change first.
          if (isUniqueViolation(error) || (error instanceof ApiError && error.code === 'SCHEDULE_CHANGED')) continue;
          if (error instanceof ApiError) throw new Error(`Schedule "${key}" declared in code is invalid: ${error.message}`, { cause: error });
          throw error;
        }
      }
    }
    const knownTypes = new Set(this.registry.all().map((definition) => definition.type));
    for (const [key, row] of existing) {
      if (declaredKeys.has(key) || !knownTypes.has(row.task.type)) continue;
      if (await this.store.delete(SYSTEM_TENANT, row.id)) report.removed.push(key);
    }
    if (report.added.length + report.changed.length + report.removed.length > 0) this.logger.log(report, 'declared schedules reconciled');
    return report;
  }
}
