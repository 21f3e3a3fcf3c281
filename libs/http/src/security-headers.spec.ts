import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { securityHeaders } from './security-headers';

describe('securityHeaders', () => {
  it("is exactly what helmet's middleware sets on a response, worked out once", () => {
    const options = { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } };
    const set: Record<string, string> = {};
    const response = { setHeader: (name: string, value: string) => (set[name.toLowerCase()] = String(value)), removeHeader: () => undefined };
    helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, () => undefined);
    const headers = Object.fromEntries(securityHeaders(options));
    expect(headers).toEqual(set);
    expect(headers['content-security-policy']).toContain("default-src 'self'");
    expect(headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(headers).not.toHaveProperty('x-powered-by');
  });
});
