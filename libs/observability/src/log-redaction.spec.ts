import { censorHeaders, SECRET_REQUEST_HEADERS } from './log-redaction';

describe('censorHeaders', () => {
  it("replaces every secret header in a copy and leaves the request's own headers alone", () => {
    const live = { authorization: 'Bearer k-123', cookie: 'a=b', 'x-api-key': 'k-456', host: 'api', accept: '*/*' };
    const logged = censorHeaders(live, SECRET_REQUEST_HEADERS);
    expect(logged).toEqual({ authorization: '[redacted]', cookie: '[redacted]', 'x-api-key': '[redacted]', host: 'api', accept: '*/*' });
    expect(live.authorization).toBe('Bearer k-123');
  });

  it('returns the same object when there is nothing to hide, and passes undefined through', () => {
    const headers = { host: 'api' };
    expect(censorHeaders(headers, SECRET_REQUEST_HEADERS)).toBe(headers);
    expect(censorHeaders(undefined, SECRET_REQUEST_HEADERS)).toBeUndefined();
  });
});
