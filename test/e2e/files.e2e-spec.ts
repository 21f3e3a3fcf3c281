import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { exchangeOnOneConnection, multipartBody, type MultipartPart, type RawRequest } from './support/raw-http';
import { http, startStack, TEST_ADMIN_KEY, type Stack } from './support/stack';

const auth = (key = TEST_ADMIN_KEY) => ({ authorization: `Bearer ${key}` });

/** An upload as raw bytes, the parts in the order given. */
function multipartRequest(parts: MultipartPart[]): RawRequest {
  const boundary = '----conveyor-raw';
  return {
    method: 'POST',
    target: '/v1/files',
    headers: [
      ['Authorization', `Bearer ${TEST_ADMIN_KEY}`],
      ['Content-Type', `multipart/form-data; boundary=${boundary}`],
    ],
    body: multipartBody(parts, boundary),
  };
}

function upload(stack: Stack, content: Buffer | string, name: string, key = TEST_ADMIN_KEY, type = 'text/csv') {
  const form = new FormData();
  form.append('file', new Blob([content], { type }), name);
  return fetch(`${stack.apiUrl}/v1/files`, { method: 'POST', body: form, headers: auth(key) });
}

describe('files API (streamed upload, metadata, download)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ worker: false, env: { MAX_UPLOAD_BYTES: String(2 * 1024 * 1024) } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('uploads, describes and downloads a file byte for byte', async () => {
    const content = Buffer.from('email,name\n a@b.c ,Ann\nÄ,Ünïcode\n'.repeat(20_000).slice(0, 1_500_000));
    const response = await upload(stack, content, 'crm export (1).csv');
    expect(response.status).toBe(201);
    const file = (await response.json()) as any;
    expect(file).toMatchObject({ name: 'crm export (1).csv', contentType: 'text/csv', size: content.length, kind: 'upload' });
    expect(file.sha256).toBe(createHash('sha256').update(content).digest('hex'));

    expect((await http(stack.apiUrl, 'GET', `/v1/files/${file.id}`)).body).toEqual(file);
    const download = await fetch(`${stack.apiUrl}/v1/files/${file.id}/content`, { headers: auth() });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('text/csv');
    expect(download.headers.get('content-disposition')).toBe(`attachment; filename="crm export (1).csv"; filename*=UTF-8''crm%20export%20(1).csv`);
    expect(Buffer.from(await download.arrayBuffer()).equals(content)).toBe(true);
  });

  it('refuses a file over MAX_UPLOAD_BYTES with 413 FILE_TOO_LARGE', async () => {
    const response = await upload(stack, Buffer.alloc(3 * 1024 * 1024, 'x'), 'big.csv');
    expect(response.status).toBe(413);
    expect(((await response.json()) as any).error.code).toBe('FILE_TOO_LARGE');
  });

  it('answers a body cut off inside the file part with 400 INVALID_MULTIPART (no hang) and stores nothing', async () => {
    const boundary = '----conveyor-cut';
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="cut.csv"\r\nContent-Type: text/csv\r\n\r\n`;
    // Complete as HTTP (its Content-Length is right) but no closing boundary: the file never ends.
    const body = Buffer.from(`${head}a,b\n1,2\n3,`);
    const response = await fetch(`${stack.apiUrl}/v1/files`, {
      method: 'POST',
      body,
      headers: { ...auth(), 'content-type': `multipart/form-data; boundary=${boundary}` },
      signal: AbortSignal.timeout(10_000),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error.code).toBe('INVALID_MULTIPART');
    const db = new Client({ connectionString: stack.database.url });
    await db.connect();
    try {
      const stored = await db.query(`SELECT COUNT(*) AS n FROM files WHERE name = 'cut.csv'`);
      expect(Number(stored.rows[0].n)).toBe(0);
    } finally {
      await db.end();
    }
  });

  it('keeps a keep-alive connection usable after an upload it stopped reading part-way', async () => {
    const port = Number(new URL(stack.apiUrl).port);
    const next: RawRequest = { method: 'GET', target: '/v1/files/not-an-id', headers: [['Authorization', `Bearer ${TEST_ADMIN_KEY}`]] };
    // Refused at 2 MiB with 1 MiB still to come: unless the rest is read and dropped, the
    // connection parses no further request and the client's next one hangs. Then a file
    // followed by a 512 KiB field the route answers without waiting for: the drain takes that
    // body from the multipart parser still reading it, and must read it to the end itself.
    const [tooLarge, afterTooLarge, stored, afterStored] = await exchangeOnOneConnection(port, [
      multipartRequest([{ name: 'file', filename: 'big.csv', content: Buffer.alloc(3 * 1024 * 1024, 'x') }]),
      next,
      multipartRequest([
        { name: 'file', filename: 'small.csv', content: Buffer.from('a,b\n1,2\n') },
        { name: 'note', content: Buffer.alloc(512 * 1024, 'n') },
      ]),
      next,
    ]);
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(afterTooLarge.body.toString()).error.code).toBe('FILE_NOT_FOUND');
    expect(stored.status).toBe(201);
    expect(JSON.parse(stored.body.toString()).size).toBe(8);
    expect(JSON.parse(afterStored.body.toString()).error.code).toBe('FILE_NOT_FOUND');
  });

  it('keeps names safe, files per tenant, and refuses requests without a file', async () => {
    const file = (await (await upload(stack, 'a,b\n', '../../etc/passwd')).json()) as any;
    expect(file.name).toBe('passwd');
    const other = (await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant: 'other', scopes: ['tasks:read', 'tasks:write'] })).body.key;
    expect((await http(stack.apiUrl, 'GET', `/v1/files/${file.id}`, undefined, auth(other))).status).toBe(404);
    expect((await http(stack.apiUrl, 'GET', `/v1/files/${file.id}/content`, undefined, auth(other))).status).toBe(404);
    expect((await http(stack.apiUrl, 'GET', '/v1/files/not-an-id')).body.error.code).toBe('FILE_NOT_FOUND');

    const json = await http(stack.apiUrl, 'POST', '/v1/files', { file: 'inline' });
    expect(json.status).toBe(415);
    const form = new FormData();
    form.append('note', 'no file here');
    const empty = await fetch(`${stack.apiUrl}/v1/files`, { method: 'POST', body: form, headers: auth() });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as any).error.code).toBe('VALIDATION_FAILED');
  });
});
