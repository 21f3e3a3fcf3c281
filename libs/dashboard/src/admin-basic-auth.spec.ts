import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, type Principal } from '@conveyor/http';
import { adminBasicAuth, basicPassword } from './admin-basic-auth';
import { withoutInsecureUpgrade } from './dashboard-csp';

const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

describe('basicPassword', () => {
  it('takes the password after the first colon, whatever the username', () => {
    expect(basicPassword(basic('admin:secret'))).toBe('secret');
    expect(basicPassword(basic(':secret'))).toBe('secret');
    expect(basicPassword(basic('a:b:c'))).toBe('b:c');
    expect(basicPassword(`basic  ${Buffer.from('x:y').toString('base64')} `)).toBe('y');
  });

  it('refuses everything else', () => {
    for (const header of [undefined, '', 'Basic', 'Basic ', basic('no-colon'), basic('user:'), 'Bearer abc', 'Basic !!!', `Basic ${'A'.repeat(2000)}`]) {
      expect({ header, password: basicPassword(header) }).toEqual({ header, password: undefined });
    }
  });
});

describe('adminBasicAuth', () => {
  const principal = (scopes: Principal['scopes']): Principal => ({ keyId: 'k', tenantId: 't', scopes });

  async function run(verify: (key: string) => Promise<Principal | null>, authorization?: string) {
    const sent: { status?: number; headers: Record<string, string>; body?: unknown } = { headers: {} };
    const reply = {
      status(code: number) {
        sent.status = code;
        return reply;
      },
      header(name: string, value: string) {
        sent.headers[name] = value;
        return reply;
      },
      send(body: unknown) {
        sent.body = body;
        return reply;
      },
    };
    const request = { id: 'req-1', headers: { authorization } } as unknown as FastifyRequest;
    await adminBasicAuth(verify)(request, reply as unknown as FastifyReply);
    return sent;
  }

  it('lets an admin key through without answering', async () => {
    const verify = jest.fn(async () => principal(['admin']));
    expect((await run(verify, basic('ops:the-key'))).status).toBeUndefined();
    expect(verify).toHaveBeenCalledWith('the-key', expect.anything(), expect.anything());
  });

  it('answers 401 with a Basic challenge, 403 without the admin scope, 503 when keys cannot be checked', async () => {
    const missing = await run(async () => principal(['admin']));
    expect(missing).toMatchObject({ status: 401, headers: { 'www-authenticate': 'Basic realm="Conveyor"' } });
    expect(missing.body).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String), requestId: 'req-1' } });
    expect((await run(async () => null, basic('a:wrong'))).status).toBe(401);
    const forbidden = await run(async () => principal(['tasks:read', 'tasks:write']), basic('a:writer'));
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers['www-authenticate']).toBeUndefined();
    const down = await run(async () => Promise.reject(new Error('database down')), basic('a:key'));
    expect(down).toMatchObject({ status: 503, body: { error: { code: 'SERVICE_UNAVAILABLE' } } });
    const limited = await run(async () => Promise.reject(new ApiError(429, 'RATE_LIMITED', 'Too many failed authentications')), basic('a:key'));
    expect(limited).toMatchObject({ status: 429, body: { error: { code: 'RATE_LIMITED' } } });
  });
});

describe('withoutInsecureUpgrade', () => {
  it('drops only upgrade-insecure-requests', () => {
    expect(withoutInsecureUpgrade("default-src 'self';upgrade-insecure-requests;script-src 'self'")).toBe("default-src 'self';script-src 'self'");
    expect(withoutInsecureUpgrade("default-src 'self'; Upgrade-Insecure-Requests")).toBe("default-src 'self'");
    expect(withoutInsecureUpgrade("default-src 'self'")).toBe("default-src 'self'");
  });
});
