import { ConfigValidationError, loadAppConfig } from './app-config';

const BASE = { DATABASE_URL: 'postgres://db.internal/ledger' };
const SECRET = 'Zq8vN2kLx4Rt7Wm1Hc5Jb9Fd3Gs6Ya0P';

const problemKeys = (env: Record<string, string>) => {
  try {
    loadAppConfig({ ...BASE, ...env });
  } catch (error) {
    if (error instanceof ConfigValidationError) return error.problems.map((p) => p.key).sort();
    throw error;
  }
  return [];
};

describe('export settings', () => {
  it('default to a random per-process link key (flagged), 15-minute links and 7 days of retention', () => {
    const first = loadAppConfig(BASE).exports;
    expect(first).toEqual({
      linkSecret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      linkSecretGenerated: true,
      linkTtlSeconds: 900,
      retentionSeconds: 604_800,
    });
    expect(loadAppConfig(BASE).exports.linkSecret).not.toBe(first.linkSecret);
  });

  it('reads every key', () => {
    const config = loadAppConfig({ ...BASE, EXPORT_LINK_SECRET: SECRET, EXPORT_LINK_TTL_SECONDS: '60', EXPORT_RETENTION_SECONDS: '3600' });
    expect(config.exports).toEqual({ linkSecret: SECRET, linkSecretGenerated: false, linkTtlSeconds: 60, retentionSeconds: 3600 });
  });

  it('refuses a short key, a weak one in production, and out-of-range times', () => {
    expect(problemKeys({ EXPORT_LINK_SECRET: 'short', EXPORT_LINK_TTL_SECONDS: '1', EXPORT_RETENTION_SECONDS: 'soon' })).toEqual([
      'EXPORT_LINK_SECRET',
      'EXPORT_LINK_TTL_SECONDS',
      'EXPORT_RETENTION_SECONDS',
    ]);
    expect(problemKeys({ NODE_ENV: 'production', EXPORT_LINK_SECRET: 'change-me-change-me-change-me-change-me' })).toEqual(['EXPORT_LINK_SECRET']);
    expect(problemKeys({ NODE_ENV: 'production', EXPORT_LINK_SECRET: SECRET })).toEqual([]);
  });
});
