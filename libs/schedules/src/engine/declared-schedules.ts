import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { isUniqueViolation } from '@conveyor/database';
import { DomainError } from '@conveyor/errors';
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

/** The schedule's input, or null when its interval, read from config, is 0 (turned off: not declared). */
function inputOf(definition: TaskTypeDefinition, declared: DeclaredSchedule, config: AppConfig): ScheduleInput | null {
  const everyMs = typeof declared.everyMs === 'function' ? declared.everyMs(config) : declared.everyMs;
  if (everyMs === 0 && typeof declared.everyMs === 'function') return null;
  return {
    cron: declared.cron ?? null,
    everyMs: everyMs ?? null,
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
 * Pausing a declared schedule through the API survives a deploy; its definition does not. An
 * interval read from config (the housekeeping schedules) is declared only when not 0, so
 * setting it to 0 removes the schedule at the next boot.
 */
@Injectable()
export class DeclaredSchedules {
  private readonly logger = new Logger(DeclaredSchedules.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly registry: TaskTypeRegistry,
    private readonly store: ScheduleStore,
    private readonly definitions: ScheduleDefinitions,
    private readonly schedules: SchedulesService,
  ) {}

  async reconcile(): Promise<DeclaredReport> {
    const report: DeclaredReport = { added: [], changed: [], removed: [] };
    const existing = new Map((await this.store.findDeclared()).map((row) => [row.key!, row]));
    const seen = new Set<string>();
    const declaredKeys = new Set<string>();
    for (const definition of this.registry.all()) {
      for (const declared of definition.schedules) {
        const key = keyOf(definition, declared);
        if (seen.has(key)) throw new Error(`Schedule "${declared.id}" is declared twice for ${definition.type}`);
        seen.add(key);
        const input = inputOf(definition, declared, this.config);
        if (!input) continue;
        declaredKeys.add(key);
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
          if (isUniqueViolation(error) || (error instanceof DomainError && error.code === 'SCHEDULE_CHANGED')) continue;
          if (error instanceof DomainError) throw new Error(`Schedule "${key}" declared in code is invalid: ${error.message}`, { cause: error });
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
