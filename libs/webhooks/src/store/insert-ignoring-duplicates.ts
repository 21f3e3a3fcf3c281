import type { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import { dialectOf } from '@conveyor/database';

/**
 * INSERTs rows, skipping any a unique key already holds (an event written again by a re-run,
 * a delivery of it to the same endpoint). Not MySQL's INSERT IGNORE, which would also turn
 * bad data into warnings.
 */
export async function insertIgnoringDuplicates<T extends ObjectLiteral>(manager: EntityManager, entity: EntityTarget<T>, rows: T[]): Promise<void> {
  if (rows.length === 0) return;
  const insert = manager.createQueryBuilder().insert().into(entity).values(rows);
  if (dialectOf(manager.connection) === 'postgres') {
    await insert.orIgnore().execute();
    return;
  }
  // TypeORM's orUpdate() would write VALUES(id), i.e. overwrite the kept row's id; this keeps it.
  const [sql, params] = insert.getQueryAndParameters();
  await manager.query(`${sql} ON DUPLICATE KEY UPDATE \`id\` = \`id\``, params);
}
