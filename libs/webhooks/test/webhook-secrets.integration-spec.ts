import { Test, type TestingModule } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import { register } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import { DataSource, type Repository } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { revertLastMigration, runMigrations } from '@conveyor/database';
import { SYSTEM_TASK_TYPES } from '@conveyor/system-tasks';
import { DomainError } from '@conveyor/errors';
import { STATUS_BY_KIND } from '@conveyor/http';
import { TaskContractsModule, TasksCoreModule, TaskTypeRegistry } from '@conveyor/tasks';
import {
  CallbackEndpoints,
  EndpointSecrets,
  generateSecret,
  SecretKeyCheck,
  SecretSealer,
  secretKeyId,
  SubscriptionCache,
  UrlGuard,
  WEBHOOK_CLOCK,
  WebhookDeliveryEntity,
  WebhookEndpointEntity,
  WebhookEndpointsService,
} from '@conveyor/webhooks';
import { DeliveryDispatcher, SecretResealer, WebhooksWorkerModule } from '@conveyor/webhooks/worker';
import {
  createTestDatabase,
  deleteRedisPrefix,
  DIALECTS,
  TEST_REDIS_URL,
  TestReceiver,
  uniqueName,
  waitFor,
  type TestDatabase,
  localWebhookEnv,
} from '@conveyor/testing';

const ACTIVATION_MS = 1000;
const GRACE_MS = 600_000;
const OLD_KEY = randomBytes(32);
const KEY = randomBytes(32);

/**
 * Signing secrets at rest on both dialects: what the database holds is a sealed envelope, not
 * the secret; deliveries still verify with the standardwebhooks library; rows written before
 * sealing (a plain secret in the column the migration widened) and rows sealed under a former
 * key stay readable and are sealed again under the current key by the worker's reseal pass; the
 * boot check refuses a production process that lacks a key its rows need; a production server
 * without a key refuses to store a secret and writes nothing.
 */
describe.each(DIALECTS)('webhook secrets at rest on %s', (dialect) => {
  let database: TestDatabase;
  let prefix: string;
  let app: TestingModule;
  let endpoints: WebhookEndpointsService;
  let dispatcher: DeliveryDispatcher;
  let dataSource: DataSource;
  let rows: Repository<WebhookEndpointEntity>;
  let receiver: TestReceiver;
  /** A plain secret on a row written before the sealing migration. */
  const legacy = { id: '', secret: generateSecret(), afterMigration: '' };
  const clock = { t: Date.parse('2026-03-01T10:00:00Z'), now: () => clock.t };
  const savedEnv = { ...process.env };

  /** The raw column values, as a database dump would show them. */
  const stored = async (id: string) => {
    const [row] = await dataSource.query<Array<{ secret: string; previous_secret: string | null }>>(
      `SELECT secret, previous_secret FROM webhook_endpoints WHERE id = ${dialect === 'postgres' ? '$1' : '?'}`,
      [id],
    );
    return row;
  };

  /** Sends a ping to `endpointId` and returns what the receiver got. */
  const ping = async (tenant: string, endpointId: string) => {
    const delivery = await endpoints.sendTest(tenant, endpointId);
    const done = await waitFor(
      async () => {
        await dispatcher.dispatchOnce();
        const row = await dataSource.getRepository(WebhookDeliveryEntity).findOneByOrFail({ id: delivery.id });
        return row.status !== 'pending' ? row : undefined;
      },
      { what: 'the ping to be delivered', timeoutMs: 20_000, intervalMs: 25 },
    );
    expect(done.status).toBe('succeeded');
    const received = receiver.received.find((r) => r.headers['webhook-id'] === delivery.eventId)!;
    return { body: received.body, headers: received.headers as Record<string, string> };
  };

  const verifies = (secret: string, message: { body: string; headers: Record<string, string> }) => {
    try {
      new Webhook(secret).verify(message.body, message.headers);
      return true;
    } catch {
      return false;
    }
  };

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    await runMigrations(database.config);
    // A row of the time before sealing: the sealing migration reverted, a plain secret written,
    // the migration applied again. It must leave the row as it was.
    await revertLastMigration(database.config);
    receiver = await new TestReceiver().start();
    legacy.id = '0190a0a0-0000-7000-8000-000000000001';
    const setup = new DataSource({ type: dialect, url: database.url });
    await setup.initialize();
    const p = dialect === 'postgres' ? (n: number) => `$${n}` : () => '?';
    await setup.query(
      `INSERT INTO webhook_endpoints (id, tenant_id, kind, url, events, enabled, secret, active_from, created_at, updated_at) ` +
        `VALUES (${p(1)}, ${p(2)}, 'endpoint', ${p(3)}, ${p(4)}, ${dialect === 'postgres' ? 'true' : '1'}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)})`,
      [legacy.id, 'legacy-tenant', receiver.url('/legacy'), JSON.stringify(['task.*']), legacy.secret, ...Array(3).fill(new Date(clock.t - 86_400_000))],
    );
    await setup.destroy();
    await runMigrations(database.config);
    const check = await new DataSource({ type: dialect, url: database.url }).initialize();
    const [migrated] = await check.query<Array<{ secret: string }>>(`SELECT secret FROM webhook_endpoints WHERE id = ${p(1)}`, [legacy.id]);
    legacy.afterMigration = migrated.secret;
    await check.destroy();

    prefix = uniqueName('it_secrets');
    Object.assign(process.env, {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      ...localWebhookEnv(ACTIVATION_MS),
      WEBHOOK_SECRET_GRACE_MS: String(GRACE_MS),
      WEBHOOK_POLL_INTERVAL_MS: '60000',
      // The current key, and the former one that still opens what it sealed.
      WEBHOOK_SECRET_KEY: KEY.toString('base64'),
      WEBHOOK_SECRET_KEYS_OLD: OLD_KEY.toString('base64'),
    });
    app = await Test.createTestingModule({ imports: [TasksCoreModule, TaskContractsModule.forFeature([...SYSTEM_TASK_TYPES]), WebhooksWorkerModule] })
      .overrideProvider(WEBHOOK_CLOCK)
      .useValue(clock)
      .compile();
    await app.init();
    endpoints = app.get(WebhookEndpointsService);
    dispatcher = app.get(DeliveryDispatcher);
    dataSource = app.get(DataSource);
    rows = dataSource.getRepository(WebhookEndpointEntity);
  });

  afterAll(async () => {
    await receiver?.stop();
    await app?.close();
    register.clear();
    process.env = savedEnv;
    await database?.drop();
    await deleteRedisPrefix(prefix);
  });

  it('stores a sealed envelope, never the secret, and deliveries verify with the secret shown at creation', async () => {
    const tenant = uniqueName('t');
    const { endpoint, secret } = await endpoints.create(tenant, { url: receiver.url('/sealed'), events: ['task.*'] });
    clock.t += ACTIVATION_MS + 1;
    const column = (await stored(endpoint.id)).secret;
    expect(column).toMatch(new RegExp(`^v1:${secretKeyId(KEY)}:`));
    expect(column).not.toContain(secret.slice('whsec_'.length));
    expect(verifies(secret, await ping(tenant, endpoint.id))).toBe(true);

    // The callback secret too: sealed in the table, shown in the clear to its tenant.
    const callback = await app.get(CallbackEndpoints).get(tenant);
    expect(callback.secret).toMatch(/^whsec_/);
    expect((await stored(callback.endpoint.id)).secret).toMatch(/^v1:/);
  });

  it('rotates: the new secret sealed, the previous one sealed again beside it, both signing during the grace', async () => {
    const tenant = uniqueName('t');
    const { endpoint, secret: first } = await endpoints.create(tenant, { url: receiver.url('/rotate'), events: ['task.*'] });
    clock.t += ACTIVATION_MS + 1;
    const { secret: second } = await endpoints.rotateSecret(tenant, endpoint.id);
    const columns = await stored(endpoint.id);
    expect([columns.secret, columns.previous_secret]).toEqual([expect.stringMatching(/^v1:/), expect.stringMatching(/^v1:/)]);
    expect(JSON.stringify(columns)).not.toContain(first.slice(6, 30));
    const message = await ping(tenant, endpoint.id);
    expect([verifies(first, message), verifies(second, message)]).toEqual([true, true]);
  });

  it('the migration leaves a plain row as it was, and the worker seals it at its start; deliveries verify before and after', async () => {
    expect(legacy.afterMigration).toBe(legacy.secret);
    expect(await app.get(SecretResealer).bootPass).toEqual({ resealed: 1, unreadable: 0 });
    const column = (await stored(legacy.id)).secret;
    expect(column).toMatch(new RegExp(`^v1:${secretKeyId(KEY)}:`));
    expect(new SecretSealer(KEY).open(column, legacy.id)).toBe(legacy.secret);
    expect(verifies(legacy.secret, await ping('legacy-tenant', legacy.id))).toBe(true);
  });

  it('reads rows sealed under a former key or plain, and the reseal pass seals them under the current key', async () => {
    // A row sealed under the former key, with a previous secret in its grace; one whose previous
    // secret is past it; one written plain.
    const tenant = uniqueName('t');
    const create = async (path: string) => (await endpoints.create(tenant, { url: receiver.url(path), events: ['task.*'] })).endpoint;
    const [endpoint, expired, plain] = [await create('/old-key'), await create('/expired'), await create('/plain')];
    clock.t += ACTIVATION_MS + 1;
    const before = new SecretSealer(OLD_KEY);
    const [current, previous, plainSecret] = [generateSecret(), generateSecret(), generateSecret()];
    await rows.update(
      { id: endpoint.id },
      {
        sealedSecret: before.seal(current, endpoint.id),
        sealedPreviousSecret: before.seal(previous, endpoint.id),
        previousSecretUntil: new Date(clock.t + GRACE_MS),
      },
    );
    await rows.update({ id: expired.id }, { sealedPreviousSecret: before.seal(previous, expired.id), previousSecretUntil: new Date(clock.t - 1) });
    await rows.update({ id: plain.id }, { sealedSecret: plainSecret });

    const message = await ping(tenant, endpoint.id);
    expect([verifies(current, message), verifies(previous, message)]).toEqual([true, true]);
    expect(verifies(plainSecret, await ping(tenant, plain.id))).toBe(true);

    expect(await app.get(SecretResealer).resealAll()).toEqual({ resealed: 3, unreadable: 0 });
    const onlyCurrentKey = new SecretSealer(KEY);
    const resealed = await rows.findOneByOrFail({ id: endpoint.id });
    expect([resealed.sealedSecret, resealed.sealedPreviousSecret]).toEqual([
      expect.stringMatching(new RegExp(`^v1:${secretKeyId(KEY)}:`)),
      expect.stringMatching(new RegExp(`^v1:${secretKeyId(KEY)}:`)),
    ]);
    expect(onlyCurrentKey.open(resealed.sealedSecret, endpoint.id)).toBe(current);
    expect(onlyCurrentKey.open(resealed.sealedPreviousSecret!, endpoint.id)).toBe(previous);
    expect(onlyCurrentKey.open((await stored(plain.id)).secret, plain.id)).toBe(plainSecret);
    // A previous secret past its grace is dropped rather than sealed again.
    expect((await stored(expired.id)).previous_secret).toBeNull();
    const after = await ping(tenant, endpoint.id);
    expect([verifies(current, after), verifies(previous, after)]).toEqual([true, true]);
    // Nothing left to do: a second pass (another worker's, the next start) changes nothing.
    expect(await app.get(SecretResealer).resealAll()).toEqual({ resealed: 0, unreadable: 0 });
  });

  it('the boot check refuses a production process that lacks a key its rows need, and only warns elsewhere', async () => {
    const config = app.get<AppConfig>(APP_CONFIG);
    const check = (env: AppConfig['env'], sealer: SecretSealer) => new SecretKeyCheck({ ...config, env }, dataSource, sealer).onApplicationBootstrap();
    await expect(check('production', new SecretSealer(null, [], false))).rejects.toThrow(
      /^WEBHOOK_SECRET_KEY is not set while \d+ webhook secret\(s\) are stored/,
    );
    const stranger = new SecretSealer(randomBytes(32), [], false);
    await expect(check('production', stranger)).rejects.toThrow(new RegExp(`sealed under key\\(s\\) ${secretKeyId(KEY)} that this process does not have`));
    await expect(check('development', new SecretSealer(null))).resolves.toBeUndefined();
    await expect(check('production', new SecretSealer(KEY, [], false))).resolves.toBeUndefined();
  });

  it('a production server without a key refuses to store a secret (503) and writes no endpoint', async () => {
    const tenant = uniqueName('t');
    const secrets = new EndpointSecrets({ ...app.get<AppConfig>(APP_CONFIG), env: 'production' }, dataSource, new SecretSealer(null, [], false), clock);
    const keyless = new WebhookEndpointsService(
      app.get(APP_CONFIG),
      dataSource,
      app.get(UrlGuard),
      app.get(SubscriptionCache),
      clock,
      app.get(TaskTypeRegistry),
      secrets,
    );
    const refusal = await keyless.create(tenant, { url: receiver.url('/none'), events: ['task.*'] }).catch((error: DomainError) => error);
    expect(refusal).toBeInstanceOf(DomainError);
    expect([STATUS_BY_KIND[(refusal as DomainError).kind], (refusal as DomainError).code]).toEqual([503, 'WEBHOOK_SECRET_KEY_MISSING']);
    expect(await rows.countBy({ tenantId: tenant })).toBe(0);
  });
});
