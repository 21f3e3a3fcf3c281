import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { APP_CONFIG, ConfigValidationError, loadAppConfig, loadEnvFile, type AppConfig } from '@conveyor/config';
import {
  BackgroundMigrationsCliModule,
  BackgroundMigrationsService,
  etaSeconds,
  isStalled,
  percentDone,
  rowsPerSecond,
  statusOf,
  type MigrationAction,
  type MigrationState,
} from '@conveyor/background-migrations';
import { toMigrationView } from '@conveyor/background-migrations/api';
import { DomainError } from '@conveyor/errors';

const ACTIONS: readonly MigrationAction[] = ['start', 'pause', 'resume', 'retry'];

const USAGE = `Usage:
  npm run bg-migrations -- status [<name>] [--json]
  npm run bg-migrations -- start|pause|resume|retry <name>`;

function line(state: MigrationState, config: AppConfig): string {
  const row = state.row;
  const percent = percentDone(row);
  const rate = rowsPerSecond(row);
  const eta = row?.status === 'running' ? etaSeconds(row) : null;
  const parts = [
    state.name.padEnd(28),
    `${statusOf(state)}${isStalled(row, config) ? ' (stalled)' : ''}${state.definition ? '' : ' (not declared)'}`.padEnd(20),
    `${row?.rowsProcessed ?? 0}/${row?.rowsTotal ?? '?'} rows`,
    percent === null ? '' : `${percent}%`,
    `${row?.batches ?? 0} batches`,
    `${row?.failures ?? 0} failures`,
    rate === null ? '' : `${Math.round(rate)} rows/s`,
    eta === null ? '' : `ETA ${eta}s`,
    row?.lastError ? `last error: ${row.lastError.message}` : '',
  ];
  return parts.filter(Boolean).join('  ');
}

/** `npm run bg-migrations`: background migrations from a shell (the same service as /v1/admin/background-migrations). */
async function main(): Promise<number> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean' } } });
  const [command, name] = positionals;
  const isAction = (ACTIONS as readonly string[]).includes(command ?? '');
  if (values.help || !(command === 'status' || isAction) || (isAction && !name)) {
    console.error(USAGE);
    return 2;
  }
  loadEnvFile();
  loadAppConfig();
  const app = await NestFactory.createApplicationContext(BackgroundMigrationsCliModule, { logger: ['error'] });
  try {
    const service = app.get(BackgroundMigrationsService);
    const config = app.get<AppConfig>(APP_CONFIG);
    const states = isAction ? [await service.apply(name, command as MigrationAction)] : name ? [await service.get(name)] : await service.list();
    if (values.json)
      console.log(
        JSON.stringify(
          states.map((state) => toMigrationView(state, config)),
          null,
          2,
        ),
      );
    else for (const state of states) console.log(line(state, config));
    return 0;
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    console.error(`${error.code}: ${error.message}`);
    return error.kind === 'not_found' ? 3 : 1;
  } finally {
    await app.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof ConfigValidationError ? error.message : error);
    process.exit(1);
  },
);
