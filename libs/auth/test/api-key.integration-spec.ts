import { DataSource } from 'typeorm';
import type { AppConfig } from '@conveyor/config';
import { buildDataSourceOptions } from '@conveyor/database';
import { createTestDatabase, type TestDatabase } from '@conveyor/testing';
import { ApiKeyEntity, ApiKeyService, BOOTSTRAP_KEY_ID } from '@conveyor/auth';

const ADMIN_KEY = 'bootstrap-admin-key-for-the-auth-integration-test';

/**
 * API keys on a real database: a working key is known without a query after its first lookup
 * (its hash cached too), and a revocation in this process stops it at once, cache or not.
 */
describe('ApiKeyService', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let keys: ApiKeyService;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    dataSource = new DataSource(buildDataSourceOptions(database.config, [ApiKeyEntity]));
    await dataSource.initialize();
    await dataSource.runMigrations();
    const config = { security: { adminKey: ADMIN_KEY, authCacheTtlMs: 60_000 } } as AppConfig;
    keys = new ApiKeyService(config, dataSource.getRepository(ApiKeyEntity));
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });

  it('knows a working key from memory after one lookup, and forgets it the moment it is revoked', async () => {
    const created = await keys.create('acme', ['tasks:read']);
    expect(keys.peek(created.key)).toBeUndefined();
    const principal = { keyId: created.id, tenantId: 'acme', scopes: ['tasks:read'] };
    expect(await keys.verify(created.key)).toEqual(principal);
    // Twice: the second peek takes the key's hash from the cache.
    expect(keys.peek(created.key)).toEqual(principal);
    expect(keys.peek(created.key)).toEqual(principal);

    expect(await keys.revoke(created.id)).toBe(true);
    expect(keys.peek(created.key)).toBeUndefined();
    expect(await keys.verify(created.key)).toBeNull();
    expect(keys.peek(created.key)).toBeNull();
  });

  it('tells the bootstrap key, a key of the wrong form and an unknown key apart', async () => {
    for (let i = 0; i < 2; i += 1) expect(keys.peek(ADMIN_KEY)).toMatchObject({ keyId: BOOTSTRAP_KEY_ID, tenantId: 'default' });
    expect(keys.peek(`${ADMIN_KEY}x`)).toBeNull();
    const unknown = `cvk_0123abcd_${'A'.repeat(32)}`;
    expect(await keys.verify(unknown)).toBeNull();
    expect(keys.peek(unknown)).toBeNull();
  });
});
