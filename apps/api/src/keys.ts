import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { ApiKeyService, apiKeyView, KeysCliModule } from '@conveyor/auth';
import { ConfigValidationError, loadAppConfig, loadEnvFile } from '@conveyor/config';
import { SCOPES, type Scope } from '@conveyor/http';

const USAGE = `Usage:
  npm run keys -- create --tenant <tenant> --scopes <scope,scope> [--name <name>]
  npm run keys -- list [--json]
  npm run keys -- revoke <id>
Scopes: ${SCOPES.join(', ')}`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `npm run keys`: API key management from a shell (the same service as /v1/admin/keys). */
async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      tenant: { type: 'string' },
      scopes: { type: 'string' },
      name: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, id] = positionals;
  if (values.help || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (!['create', 'list', 'revoke'].includes(command ?? '')) {
    console.error(USAGE);
    return 2;
  }
  const scopes = (values.scopes ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (command === 'create') {
    const bad = scopes.filter((scope) => !(SCOPES as readonly string[]).includes(scope));
    if (!values.tenant || !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(values.tenant) || scopes.length === 0 || bad.length > 0) {
      console.error(bad.length ? `unknown scope(s): ${bad.join(', ')}\n${USAGE}` : USAGE);
      return 2;
    }
  }
  if (command === 'revoke' && !id) {
    console.error(USAGE);
    return 2;
  }
  // Key ids are UUIDs: anything else cannot name a key (and would only upset the database).
  if (command === 'revoke' && !UUID.test(id)) {
    console.error(`no live key ${id}`);
    return 1;
  }

  loadEnvFile();
  loadAppConfig();
  const app = await NestFactory.createApplicationContext(KeysCliModule, { logger: ['error'] });
  try {
    const keys = app.get(ApiKeyService);
    if (command === 'create') {
      console.log(JSON.stringify(await keys.create(values.tenant!, scopes as Scope[], values.name), null, 2));
      console.error('Store the key now: it is not shown again.');
    } else if (command === 'list') {
      const list = await keys.list();
      if (values.json) {
        console.log(JSON.stringify({ keys: list.map(apiKeyView) }, null, 2));
        return 0;
      }
      for (const key of list) {
        console.log(`${key.id}  ${key.tenantId.padEnd(16)} cvk_${key.prefix}_…  ${key.scopes.join(',')}  ${key.name ?? ''}`);
      }
    } else if (!(await keys.revoke(id))) {
      console.error(`no live key ${id}`);
      return 1;
    } else {
      console.log(`revoked ${id}`);
    }
    return 0;
  } finally {
    await app.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // One readable line for an operator, not a stack (LOG_LEVEL=debug keeps the stack).
    const detail = error instanceof Error && process.env.LOG_LEVEL === 'debug' ? error.stack : error instanceof Error ? error.message : String(error);
    console.error(error instanceof ConfigValidationError ? error.message : `keys: ${detail}`);
    process.exit(1);
  },
);
