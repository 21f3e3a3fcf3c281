import { randomBytes } from 'node:crypto';
import { ConfigValidationError, loadAppConfig } from './app-config';

const BASE = { DATABASE_URL: 'postgres://db.internal/ledger' };

const problemsOf = (env: Record<string, string>) => {
  try {
    loadAppConfig({ ...BASE, ...env });
  } catch (error) {
    if (error instanceof ConfigValidationError) return error.problems;
    throw error;
  }
  return [];
};

describe('webhook secret keys', () => {
  it('are unset by default', () => {
    expect(loadAppConfig(BASE).webhooks).toMatchObject({ secretKey: null, secretKeysOld: [] });
  });

  it('read a 32-byte key in standard or URL-safe base64, and a list of old keys', () => {
    const [current, old1, old2] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const config = loadAppConfig({
      ...BASE,
      WEBHOOK_SECRET_KEY: current.toString('base64'),
      WEBHOOK_SECRET_KEYS_OLD: `${old1.toString('base64url')}, ${old2.toString('base64')}`,
    });
    expect(config.webhooks.secretKey?.equals(current)).toBe(true);
    expect(config.webhooks.secretKeysOld.map((key) => key.toString('hex'))).toEqual([old1.toString('hex'), old2.toString('hex')]);
  });

  it('refuse a key of another length or encoding, naming the key and how to make one', () => {
    for (const bad of [randomBytes(16).toString('base64'), randomBytes(48).toString('base64'), 'not base64 at all, not at all, not at all!!', 'x'.repeat(64)]) {
      expect(problemsOf({ WEBHOOK_SECRET_KEY: bad })).toEqual([
        { key: 'WEBHOOK_SECRET_KEY', problems: [expect.stringContaining('32 random bytes in base64')] },
      ]);
    }
    expect(problemsOf({ WEBHOOK_SECRET_KEYS_OLD: `${randomBytes(32).toString('base64')},short` }).map((p) => p.key)).toEqual(['WEBHOOK_SECRET_KEYS_OLD']);
  });
});
