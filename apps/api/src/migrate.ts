import 'reflect-metadata';
import { ConfigValidationError, loadAppConfig, loadEnvFile } from '@conveyor/config';
import { revertLastMigration, runMigrations } from '@conveyor/database';

/** `npm run migrate` applies pending migrations; `npm run migrate:revert` undoes the last one. */
async function main(): Promise<void> {
  loadEnvFile();
  const config = loadAppConfig();
  if (process.argv.includes('--revert')) {
    await revertLastMigration(config.database);
    console.log('reverted the last migration');
    return;
  }
  const applied = await runMigrations(config.database);
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigValidationError ? error.message : error);
  process.exit(1);
});
