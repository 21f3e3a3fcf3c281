import type { AppConfig } from '@conveyor/config';
import { ErrorReporter, redactedPayload } from './error-reporter';

describe('ErrorReporter', () => {
  it('does nothing without a DSN', () => {
    const reporter = new ErrorReporter({ errorReporting: { dsn: null, environment: 'test', sendPayload: true } } as unknown as AppConfig);
    expect(reporter.enabled).toBe(false);
    expect(() => reporter.taskFailed(new Error('x'), { taskId: 't', type: 'a', queue: 'q', attempt: 1, tenantId: 'acme', code: 'C' })).not.toThrow();
  });

  it('censors the LOG_REDACT_PAYLOAD_FIELDS paths of a payload it may send, leaving the original alone', () => {
    const payload = { user: { password: 'hunter2', name: 'ann' }, apiToken: 't0k', rows: 3 };
    expect(redactedPayload(payload, ['user.password', 'apiToken', 'missing.path'])).toEqual({
      user: { password: '[redacted]', name: 'ann' },
      apiToken: '[redacted]',
      rows: 3,
    });
    expect(payload.user.password).toBe('hunter2');
    expect(redactedPayload('plain', ['a'])).toBe('plain');
  });
});
