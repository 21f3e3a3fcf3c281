import { parseStoredSettings, patchFields } from './queue-settings';

describe('queue settings', () => {
  it('reads a stored hash; a rate limit needs both fields; broken values count as absent', () => {
    expect(parseStoredSettings({})).toEqual({ concurrency: null, rateLimit: null, version: 0, updatedAt: null });
    expect(parseStoredSettings({ concurrency: '3', rateLimitMax: '5', rateLimitDurationMs: '1000', version: '7', updatedAt: 'x' })).toEqual({
      concurrency: 3,
      rateLimit: { max: 5, durationMs: 1000 },
      version: 7,
      updatedAt: 'x',
    });
    expect(parseStoredSettings({ concurrency: '0', rateLimitMax: '5', version: 'nope' })).toEqual({
      concurrency: null,
      rateLimit: null,
      version: 0,
      updatedAt: null,
    });
    expect(parseStoredSettings({ concurrency: '2.5' }).concurrency).toBeNull();
  });

  it('turns a patch into fields to set and to remove; absent fields are left alone', () => {
    expect(patchFields({})).toEqual({ set: {}, remove: [] });
    expect(patchFields({ concurrency: 4 })).toEqual({ set: { concurrency: '4' }, remove: [] });
    expect(patchFields({ concurrency: null, rateLimit: { max: 2, durationMs: 500 } })).toEqual({
      set: { rateLimitMax: '2', rateLimitDurationMs: '500' },
      remove: ['concurrency'],
    });
    expect(patchFields({ rateLimit: null })).toEqual({ set: {}, remove: ['rateLimitMax', 'rateLimitDurationMs'] });
  });
});
