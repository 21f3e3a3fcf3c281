import { DataSource } from 'typeorm';
import type { DatabaseConfig } from '@conveyor/config';
import { buildDataSourceOptions } from './data-source-options';

/** Applies pending migrations and returns their names; used by `npm run migrate` and the API flag. */
export async function runMigrations(db: DatabaseConfig): Promise<string[]> {
  const dataSource = new DataSource(buildDataSourceOptions(db));
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await dataSource.destroy();
  }
}

/** Reverts the last applied migration; returns whether one was reverted. */
export async function revertLastMigration(db: DatabaseConfig): Promise<void> {
  const dataSource = new DataSource(buildDataSourceOptions(db));
  await dataSource.initialize();
  try {
    await dataSource.undoLastMigration({ transaction: 'each' });
  } finally {
    await dataSource.destroy();
  }
}
