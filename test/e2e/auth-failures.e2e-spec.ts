import { APP_ENTRY, freePort, startProcess, waitUntilReady, type AppProcess } from '@conveyor/testing';
import { http, startStack, TEST_ADMIN_KEY, type Stack } from './support/stack';

const LIMIT = 5;
const unknownKey = (n: number) => `cvk_0000000${n}_${'A'.repeat(31)}${n}`;

/** Database lookups of API keys that were not cached, as this API process counted them. */
async function unknownKeyLookups(apiUrl: string): Promise<number> {
  const text = (await http(apiUrl, 'GET', '/metrics', undefined, { authorization: '' })).body as string;
  return Number(/^conveyor_api_key_lookups_total\{result="unknown"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

/**
 * Failed authentications (issue #11, defect 8): requests without a valid key were never
 * rate-limited, every distinct well-formed unknown key cost a database lookup, and the client
 * address came from X-Forwarded-For whoever sent it.
 */
describe('failed authentications per address', () => {
  let stack: Stack;
  let behindProxy: AppProcess;
  let proxyUrl: string;

  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { AUTH_FAILURES_PER_MINUTE: String(LIMIT), AUTH_CACHE_TTL_MS: '1500', RATE_LIMIT_PER_MINUTE: '1000000' } });
    // The same deployment behind a proxy on loopback: the proxy's X-Forwarded-For counts.
    const port = await freePort();
    proxyUrl = `http://127.0.0.1:${port}`;
    behindProxy = startProcess(APP_ENTRY.api, { ...stack.env, PORT: String(port), TRUST_PROXY: '127.0.0.1' });
    await waitUntilReady(behindProxy, `${proxyUrl}/health/ready`);
  });

  afterAll(async () => {
    await behindProxy?.stop();
    await stack?.stop();
  });

  it('answers 429 with Retry-After once an address is over the limit, before any key lookup, whatever X-Forwarded-For says', async () => {
    const lookups = await unknownKeyLookups(stack.apiUrl);
    const spoofed = (i: number) => ({ 'x-forwarded-for': `198.51.100.${i}` });
    const attempts = ['', 'Basic abc', `Bearer ${unknownKey(1)}`, `Bearer ${unknownKey(1)}`, `Bearer ${unknownKey(1)}`];
    for (const [i, authorization] of attempts.entries()) {
      const response = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} }, { authorization, ...spoofed(i) });
      expect({ authorization, status: response.status, code: response.body.error.code }).toEqual({ authorization, status: 401, code: 'UNAUTHENTICATED' });
    }
    // The repeated unknown key was looked up once: the next two came from the negative cache.
    expect(await unknownKeyLookups(stack.apiUrl)).toBe(lookups + 1);

    // The failure over the limit (still looked up: the address was not blocked yet) gets 429 …
    const over = await http(stack.apiUrl, 'GET', '/v1/tasks', undefined, { authorization: `Bearer ${unknownKey(2)}`, ...spoofed(10) });
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe('RATE_LIMITED');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await unknownKeyLookups(stack.apiUrl)).toBe(lookups + 2);
    // … and from then on every new key from the address is refused without a lookup.
    for (const i of [3, 4, 5]) {
      const limited = await http(stack.apiUrl, 'GET', '/v1/tasks', undefined, { authorization: `Bearer ${unknownKey(i)}`, ...spoofed(10 + i) });
      expect({ status: limited.status, code: limited.body.error.code }).toEqual({ status: 429, code: 'RATE_LIMITED' });
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(await unknownKeyLookups(stack.apiUrl)).toBe(lookups + 2);
    // A caller with a working key is not locked out by its neighbours' failures.
    expect((await http(stack.apiUrl, 'GET', '/v1/tasks?limit=1', undefined, spoofed(99))).status).toBe(200);
  });

  it('counts the address a trusted proxy names, each on its own', async () => {
    const from = (address: string, key: string) =>
      http(proxyUrl, 'GET', '/v1/tasks', undefined, { authorization: `Bearer ${key}`, 'x-forwarded-for': address });
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 1; i += 1) statuses.push((await from('203.0.113.7', unknownKey(5))).status);
    expect(statuses).toEqual([...Array(LIMIT).fill(401), 429]);
    // Another client behind the same proxy is not blocked with it.
    expect((await from('203.0.113.8', unknownKey(5))).status).toBe(401);
  });

  it('looks an unknown key up again only after the short negative-cache TTL', async () => {
    const lookups = await unknownKeyLookups(proxyUrl);
    const attempt = (address: string) =>
      http(proxyUrl, 'GET', '/v1/tasks', undefined, { authorization: `Bearer ${unknownKey(6)}`, 'x-forwarded-for': address });
    expect((await attempt('203.0.113.20')).status).toBe(401);
    expect((await attempt('203.0.113.21')).status).toBe(401);
    expect(await unknownKeyLookups(proxyUrl)).toBe(lookups + 1);
    await new Promise((resolve) => setTimeout(resolve, 1700));
    expect((await attempt('203.0.113.22')).status).toBe(401);
    expect(await unknownKeyLookups(proxyUrl)).toBe(lookups + 2);
  });

  it('keeps the dashboard behind Basic auth, and counts its failures too', async () => {
    const basic = (password: string) => `Basic ${Buffer.from(`ops:${password}`).toString('base64')}`;
    expect((await http(proxyUrl, 'GET', '/admin/queues', undefined, { authorization: basic(TEST_ADMIN_KEY) })).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 1; i += 1) {
      statuses.push(
        (await http(proxyUrl, 'GET', '/admin/queues', undefined, { authorization: basic(unknownKey(7)), 'x-forwarded-for': '203.0.113.30' })).status,
      );
    }
    expect(statuses).toEqual([...Array(LIMIT).fill(401), 429]);
  });
});
