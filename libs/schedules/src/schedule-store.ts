import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, IsNull, Not, type Repository } from 'typeorm';
import { ScheduleEntity } from './schedule.entity';
import { SYSTEM_TENANT } from './schedule-policy';

/** Reads and writes schedule rows. Tenant-facing reads are scoped to the tenants the caller may read. */
@Injectable()
export class ScheduleStore {
  constructor(@InjectRepository(ScheduleEntity) private readonly schedules: Repository<ScheduleEntity>) {}

  /** Active schedules whose next tick is due, earliest first, skipping `exclude`. */
  findDue(now: Date, limit: number, exclude: string[] = []): Promise<ScheduleEntity[]> {
    const query = this.schedules
      .createQueryBuilder('s')
      .where('s.nextRunAt <= :now', { now })
      .andWhere('s.enabled = :yes AND s.paused = :no', { yes: true, no: false })
      .orderBy('s.nextRunAt', 'ASC')
      .limit(limit);
    if (exclude.length > 0) query.andWhere('s.id NOT IN (:...exclude)', { exclude });
    return query.getMany();
  }

  /**
   * Moves a schedule past the ticks just handled, only if `next_run_at` still holds the value
   * this process read: of several processes handling the same tick one advances it, and an
   * edit made meanwhile (PATCH, pause) is never overwritten. Returns whether it moved.
   */
  async advance(id: string, expected: Date, next: Date | null, lastTick: Date): Promise<boolean> {
    const result = await this.schedules
      .createQueryBuilder()
      .update(ScheduleEntity)
      .set({ nextRunAt: next, lastTickAt: lastTick, updatedAt: new Date() })
      .where('id = :id AND next_run_at = :expected', { id, expected })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  findOne(tenants: readonly string[], id: string): Promise<ScheduleEntity | null> {
    return this.schedules.findOneBy({ tenantId: In([...tenants]), id });
  }

  /** Newest first, keyset paging on the time-ordered id. */
  list(tenants: readonly string[], limit: number, before?: string): Promise<ScheduleEntity[]> {
    const query = this.schedules.createQueryBuilder('s').where('s.tenantId IN (:...tenants)', { tenants }).orderBy('s.id', 'DESC').limit(limit);
    if (before) query.andWhere('s.id < :before', { before });
    return query.getMany();
  }

  async insert(row: ScheduleEntity): Promise<void> {
    await this.schedules.insert(row as never);
  }

  /** Writes `changes` only if the row is unchanged since it was read (its `updatedAt`). */
  async updateIfUnchanged(row: ScheduleEntity, changes: Partial<ScheduleEntity>): Promise<boolean> {
    const result = await this.schedules
      .createQueryBuilder()
      .update(ScheduleEntity)
      .set(changes as never)
      .where('id = :id AND updated_at = :updatedAt', { id: row.id, updatedAt: row.updatedAt })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  async delete(tenantId: string, id: string): Promise<boolean> {
    const result = await this.schedules.delete({ tenantId, id });
    return (result.affected ?? 0) > 0;
  }

  /** The system tenant's code-declared schedules. */
  findDeclared(): Promise<ScheduleEntity[]> {
    return this.schedules.findBy({ tenantId: SYSTEM_TENANT, key: Not(IsNull()) });
  }
}
