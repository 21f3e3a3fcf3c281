import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Client } from 'pg';
import { waitFor } from '@conveyor/testing';
import { multipartBody, sendRaw, type MultipartPart, type RawRequest, type RawResponse } from './support/raw-http';
import { http, startStack, TEST_ADMIN_KEY, type Stack } from './support/stack';

/**
 * Limits that keep one client from stalling or exhausting the API for everyone: the shape of
 * JSON input (checked before anything copies it), upload form fields, open event streams per
 * key and per process; and every refusal, wherever it arises, in the API's error body.
 */

const STREAMS_PER_KEY = 3;
const STREAMS_PER_PROCESS = 5;
// A request the API answers at once when nothing blocks it; waiting longer than this means stalled.
const NO_STALL_MS = 10_000;

const admin: Array<[string, string]> = [['Authorization', `Bearer ${TEST_ADMIN_KEY}`]];
const jsonRequest = (target: string, text: string): RawRequest => ({
  method: 'POST',
  target,
  headers: [...admin, ['Content-Type', 'application/json']],
  body: Buffer.from(text),
});
const wideObject = (keys: number) => `{${Array.from({ length: keys }, (_, i) => `"k${i}":1`).join(',')}}`;
const longArray = (items: number) => `[${'0,'.repeat(items - 1)}0]`;

function expectErrorBody(response: RawResponse, status: number, code: string): Record<string, any> {
  expect({ status: response.status, contentType: response.headers['content-type'] }).toEqual({ status, contentType: 'application/json; charset=utf-8' });
  const body = JSON.parse(response.body.toString());
  expect(body.error).toMatchObject({ code, message: expect.any(String) });
  return body;
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

/** An open SSE response (or the refusal), read with node:http on a connection of its own. */
interface OpenStream {
  status: number;
  headers: IncomingMessage['headers'];
  response: IncomingMessage;
  close(): void;
  text(): Promise<string>;
}

function openStream(url: string, key: string): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { agent: false, headers: { authorization: `Bearer ${key}` } }, (response) => {
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        response,
        close: () => request.destroy(),
        text: () =>
          new Promise((done) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (text += chunk));
            response.on('end', () => done(text));
            response.on('close', () => done(text));
          }),
      });
    });
    request.on('error', reject);
    request.setTimeout(NO_STALL_MS, () => request.destroy(new Error(`no answer from ${url} within ${NO_STALL_MS} ms`)));
    request.end();
  });
}

describe('request limits', () => {
  let stack: Stack;
  let port: number;
  const countFiles = async () => {
    const client = new Client({ connectionString: stack.database.url });
    await client.connect();
    try {
      return Number((await client.query('SELECT count(*) AS n FROM files')).rows[0].n);
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    stack = await startStack({
      worker: false,
      env: { RATE_LIMIT_PER_MINUTE: '100000', SSE_MAX_STREAMS_PER_KEY: String(STREAMS_PER_KEY), SSE_MAX_STREAMS: String(STREAMS_PER_PROCESS) },
    });
    port = Number(new URL(stack.apiUrl).port);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  describe('JSON input shape, checked before anything copies it', () => {
    /**
     * Sends a hostile body and, while the API handles it, a small request. Before the fix the
     * global pipe copied the payload in time quadratic in its keys: 200k keys took 19-70 s, with
     * no other request answered meanwhile, and a long array took gigabytes.
     */
    async function refusedWhileResponsive(request: RawRequest, status: number, code: string) {
      const hostile = sendRaw(port, request, NO_STALL_MS * 3);
      const small = (async () => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return sendRaw(port, { method: 'GET', target: '/health/live', headers: [] }, NO_STALL_MS);
      })();
      const [refused, answered] = await Promise.all([hostile, small]);
      expect(answered.status).toBe(200);
      return expectErrorBody(refused, status, code);
    }

    it('refuses a payload of 200k keys and a 9 MB array promptly, answers others meanwhile, and does not balloon', async () => {
      const pid = stack.api!.child.pid!;
      const before = rssKiB(pid);
      const keys = await refusedWhileResponsive(
        jsonRequest('/v1/tasks', `{"type":"system.noop","payload":${wideObject(200_000)}}`),
        413,
        'JSON_LIMIT_EXCEEDED',
      );
      expect(keys.error.details).toEqual([{ field: 'payload', message: 'holds more than 1000 keys' }]);
      const array = await refusedWhileResponsive(
        jsonRequest('/v1/tasks', `{"type":"system.noop","payload":{"a":${longArray(4_600_000)}}}`),
        413,
        'JSON_LIMIT_EXCEEDED',
      );
      expect(array.error.details).toEqual([{ field: 'payload.a', message: 'holds more than 10000 items' }]);
      // Parsing a 9 MB body costs some memory; the old copy of it took gigabytes.
      expect((rssKiB(pid) - before) / 1024).toBeLessThan(600);
    });

    it('applies the same limits to every route: the batch, other JSON bodies, form bodies', async () => {
      const batch = await refusedWhileResponsive(
        jsonRequest('/v1/tasks/batch', `{"tasks":[{"type":"system.noop","payload":{}},{"type":"system.noop","payload":${wideObject(200_000)}}]}`),
        413,
        'JSON_LIMIT_EXCEEDED',
      );
      expect(batch.error.details).toEqual([{ field: 'tasks[1].payload', message: 'holds more than 1000 keys' }]);
      const manyTasks = `{"tasks":[${Array.from({ length: 1000 }, () => `{"type":"system.noop","payload":{"list":${longArray(100)}}}`).join(',')}]}`;
      expectErrorBody(await sendRaw(port, jsonRequest('/v1/tasks/batch', manyTasks)), 413, 'JSON_LIMIT_EXCEEDED');
      expectErrorBody(await sendRaw(port, jsonRequest('/v1/tasks/retry', wideObject(5000))), 413, 'JSON_LIMIT_EXCEEDED');
      expectErrorBody(await sendRaw(port, jsonRequest('/v1/admin/keys', `{"tenant":"a","scopes":${longArray(20_000)}}`)), 413, 'JSON_LIMIT_EXCEEDED');
      const form = Array.from({ length: 5000 }, (_, i) => `k${i}=1`).join('&');
      expectErrorBody(
        await sendRaw(port, {
          method: 'POST',
          target: '/v1/tasks',
          headers: [...admin, ['Content-Type', 'application/x-www-form-urlencoded']],
          body: Buffer.from(form),
        }),
        413,
        'JSON_LIMIT_EXCEEDED',
      );
    });

    it('still takes a full batch of 1000 tasks', async () => {
      const tasks = Array.from({ length: 1000 }, (_, i) => ({ type: 'system.noop', payload: {}, delayMs: 3_600_000, tags: [`b${i % 10}`] }));
      const accepted = await http(stack.apiUrl, 'POST', '/v1/tasks/batch', { tasks });
      expect(accepted.status).toBe(202);
      expect(accepted.body.tasks).toHaveLength(1000);
    });

    it('checks JSON form fields of an upload with the same limits, and stores nothing', async () => {
      const before = await countFiles();
      const rules: MultipartPart = { name: 'rules', content: Buffer.from(`{"columns":${wideObject(60_000)}}`) };
      const file: MultipartPart = { name: 'file', filename: 'a.csv', content: Buffer.from('a,b\n1,2\n') };
      const response = await sendRaw(port, {
        method: 'POST',
        target: '/v1/cleaning-jobs',
        headers: [...admin, ['Content-Type', 'multipart/form-data; boundary=----b']],
        body: multipartBody([rules, file], '----b'),
      });
      expect(expectErrorBody(response, 413, 'JSON_LIMIT_EXCEEDED').error.details).toEqual([
        { field: 'payload.rules.columns', message: 'holds more than 1000 keys' },
      ]);
      expect(await countFiles()).toBe(before);
    });
  });

  describe('upload form fields', () => {
    const form = (fields: number, target: string): RawRequest => ({
      method: 'POST',
      target,
      headers: [...admin, ['Content-Type', 'multipart/form-data; boundary=----b']],
      body: multipartBody(
        [
          ...Array.from({ length: fields }, (_, i) => ({ name: `f${i}`, content: Buffer.from('x') })),
          { name: 'file', filename: 'a.csv', content: Buffer.from('a,b\n1,2\n') },
        ],
        '----b',
      ),
    });

    it.each(['/v1/files', '/v1/cleaning-jobs'])('refuses a 21st field at %s with 413 TOO_MANY_FIELDS and stores nothing', async (target) => {
      const before = await countFiles();
      expectErrorBody(await sendRaw(port, form(21, target)), 413, 'TOO_MANY_FIELDS');
      expect(await countFiles()).toBe(before);
      expect((await sendRaw(port, form(20, '/v1/files'))).status).toBe(201);
      expect(await countFiles()).toBe(before + 1);
    });
  });

  describe('the error body everywhere', () => {
    const basic = `Basic ${Buffer.from(`ops:${TEST_ADMIN_KEY}`).toString('base64')}`;
    const cases: Array<[string, number, string, RawRequest]> = [
      [
        'a write to the read-only queue dashboard',
        405,
        'QUEUE_READ_ONLY',
        { method: 'PUT', target: '/admin/queues/api/queues/system/pause', headers: [['Authorization', basic]] },
      ],
      [
        'an unknown queue on the dashboard',
        404,
        'QUEUE_NOT_FOUND',
        { method: 'GET', target: '/admin/queues/api/queues/nope/x', headers: [['Authorization', basic]] },
      ],
      [
        'bad JSON to the dashboard',
        400,
        'INVALID_JSON',
        {
          method: 'PUT',
          target: '/admin/queues/api/queues/system/pause',
          headers: [
            ['Authorization', basic],
            ['Content-Type', 'application/json'],
          ],
          body: Buffer.from('{'),
        },
      ],
      [
        'a wrong content type on the dashboard',
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        {
          method: 'PUT',
          target: '/admin/queues/api/queues/system/pause',
          headers: [
            ['Authorization', basic],
            ['Content-Type', 'text/xml'],
          ],
          body: Buffer.from('<a/>'),
        },
      ],
      [
        'a wide body to the dashboard',
        413,
        'JSON_LIMIT_EXCEEDED',
        {
          method: 'PUT',
          target: '/admin/queues/api/queues/system/pause',
          headers: [
            ['Authorization', basic],
            ['Content-Type', 'application/json'],
          ],
          body: Buffer.from(wideObject(2000)),
        },
      ],
      ['an unknown route', 404, 'NOT_FOUND', { method: 'GET', target: '/v2/nothing', headers: admin }],
      ['an unknown method on a route', 404, 'NOT_FOUND', { method: 'PATCH', target: '/v1/tasks', headers: admin }],
      [
        'a wrong content type',
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        { method: 'POST', target: '/v1/tasks', headers: [...admin, ['Content-Type', 'text/xml']], body: Buffer.from('<a/>') },
      ],
      [
        'a body over the byte limit',
        413,
        'PAYLOAD_TOO_LARGE',
        // Refused on its declared length, before any of it is read. The body itself is not sent:
        // a server that refuses early closes the connection, and with megabytes still unread in
        // its socket the kernel answers with a reset that can overtake the 413 (seen on some hosts).
        { method: 'POST', target: '/v1/tasks', headers: [...admin, ['Content-Type', 'application/json'], ['Content-Length', String(11 * 1024 * 1024)]] },
      ],
    ];

    it.each(cases)('%s → %i %s', async (_name, status, code, request) => {
      const body = expectErrorBody(await sendRaw(port, request), status, code);
      expect(body.error.requestId).toEqual(expect.any(String));
    });
  });

  describe('task event streams', () => {
    const eventsUrl = (id: string) => `${stack.apiUrl}/v1/tasks/${id}/events`;
    const scheduled = async () => (await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {}, delayMs: 3_600_000 })).body.id as string;
    const open: OpenStream[] = [];

    afterEach(() => {
      for (const stream of open.splice(0)) stream.close();
    });

    async function expectRefused(url: string, key: string, message: RegExp) {
      const refused = await openStream(url, key);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      const body = JSON.parse(await refused.text());
      expect(body.error).toMatchObject({ code: 'TOO_MANY_STREAMS', message: expect.stringMatching(message) });
    }

    /** Opens a stream once the API has noticed a closed one (the slot comes back on 'close'). */
    async function openWhenFree(url: string, key: string): Promise<OpenStream> {
      return waitFor(
        async () => {
          const stream = await openStream(url, key);
          if (stream.status === 200) return stream;
          stream.close();
          return undefined;
        },
        { timeoutMs: NO_STALL_MS, what: 'a free stream slot' },
      );
    }

    it('caps open streams per key (429 TOO_MANY_STREAMS, Retry-After) and frees the slot when a client goes', async () => {
      const id = await scheduled();
      for (let i = 0; i < STREAMS_PER_KEY; i += 1) open.push(await openWhenFree(eventsUrl(id), TEST_ADMIN_KEY));
      await expectRefused(eventsUrl(id), TEST_ADMIN_KEY, /key/);
      open.shift()!.close();
      open.push(await openWhenFree(eventsUrl(id), TEST_ADMIN_KEY));
      await expectRefused(eventsUrl(id), TEST_ADMIN_KEY, /key/);
    });

    it('caps open streams per process across keys', async () => {
      const id = await scheduled();
      const other = (await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant: 'default', scopes: ['tasks:read'] })).body.key as string;
      // (openWhenFree: the streams of the test before may still be closing.)
      for (const key of [TEST_ADMIN_KEY, TEST_ADMIN_KEY, TEST_ADMIN_KEY, other, other]) open.push(await openWhenFree(eventsUrl(id), key));
      // `other` holds 2 of its 3, but the process holds all 5 it serves.
      await expectRefused(eventsUrl(id), other, /process/);
      open.pop()!.close();
      open.push(await openWhenFree(eventsUrl(id), other));
    });

    it('frees the slots of streams that end with their task, and of refused lookups', async () => {
      const id = await scheduled();
      const streams: OpenStream[] = [];
      for (let i = 0; i < STREAMS_PER_KEY; i += 1) streams.push(await openWhenFree(eventsUrl(id), TEST_ADMIN_KEY));
      const texts = streams.map((s) => s.text());
      expect((await http(stack.apiUrl, 'POST', `/v1/tasks/${id}/cancel`)).status).toBe(200);
      for (const text of await Promise.all(texts)) expect(text).toMatch(/"status":"cancelled"/);
      // Unknown tasks give 404 and keep no slot.
      for (let i = 0; i <= STREAMS_PER_KEY; i += 1) {
        const missing = await openStream(eventsUrl('01936f7c-0000-7000-8000-00000000abcd'), TEST_ADMIN_KEY);
        expect(missing.status).toBe(404);
        await missing.text();
      }
      const next = await scheduled();
      for (let i = 0; i < STREAMS_PER_KEY; i += 1) open.push(await openWhenFree(eventsUrl(next), TEST_ADMIN_KEY));
    });
  });
});
