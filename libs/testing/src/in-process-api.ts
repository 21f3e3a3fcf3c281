import type { INestApplication, Type } from '@nestjs/common';
import type { NestFastifyApplication, FastifyAdapter } from '@nestjs/platform-fastify';
import { register } from 'prom-client';
import type request from 'supertest';
import { loadAppConfig, type AppConfig } from '@conveyor/config';
import { runMigrations, type SqlDialect } from '@conveyor/database';
import { createTestDatabase, deleteRedisPrefix, TEST_REDIS_URL, uniqueName, type TestDatabase } from './test-infra';

/** The bootstrap admin key of an in-process API (tenant "default", every scope). */
export const IN_PROCESS_ADMIN_KEY = 'in-process-admin-key-0123456789ab';

export interface InProcessApi {
  app: NestFastifyApplication;
  config: AppConfig;
  database: TestDatabase;
  prefix: string;
  /** supertest against the app's server; `admin` adds the bootstrap admin key. */
  http(): request.Agent;
  admin(): request.Agent;
  close(): Promise<void>;
}

/**
 * The API app of one test file, in this process: its own migrated database and BullMQ prefix,
 * the API module and the app setup the API process uses (`apiAdapter` and `configureApiApp` of
 * apps/api, passed in because a lib does not import an app), no listening port. For controller
 * behaviour that needs no separate process; process behaviour stays in the e2e tier.
 */
export async function startInProcessApi(options: {
  module: Type<unknown>;
  adapter(config: AppConfig): FastifyAdapter;
  configure(app: NestFastifyApplication, config: AppConfig): Promise<void>;
  dialect?: SqlDialect;
  env?: Record<string, string>;
}): Promise<InProcessApi> {
  const database = await createTestDatabase(options.dialect ?? 'postgres');
  const prefix = uniqueName('inproc');
  const savedEnv = { ...process.env };
  Object.assign(process.env, {
    ENV_FILE: '/nonexistent',
    NODE_ENV: 'test',
    LOG_LEVEL: 'error',
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
    CONVEYOR_ADMIN_KEY: IN_PROCESS_ADMIN_KEY,
    WEBHOOK_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
    ...options.env,
  });
  let app: NestFastifyApplication | undefined;
  const close = async () => {
    await app?.close();
    // Metrics live in prom-client's global registry; a second app in this file registers them again.
    register.clear();
    process.env = savedEnv;
    await database.drop();
    await deleteRedisPrefix(prefix);
  };
  try {
    const config = loadAppConfig();
    await runMigrations(database.config);
    // Loaded here: every e2e file imports this lib, and only in-process tests need these.
    const [{ Test }, { default: supertest }] = await Promise.all([import('@nestjs/testing'), import('supertest')]);
    const testing = await Test.createTestingModule({ imports: [options.module] }).compile();
    app = testing.createNestApplication<NestFastifyApplication>(options.adapter(config), { logger: ['error'] });
    await options.configure(app, config);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    const server = (app as INestApplication).getHttpServer() as Parameters<typeof supertest>[0];
    const started = app;
    return {
      app: started,
      config,
      database,
      prefix,
      http: () => supertest.agent(server),
      admin: () => supertest.agent(server).set('authorization', `Bearer ${IN_PROCESS_ADMIN_KEY}`),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
