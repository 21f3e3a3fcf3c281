import { createHash } from 'node:crypto';
import { http, startStack, TEST_ADMIN_KEY, type Stack } from './support/stack';

const auth = (key = TEST_ADMIN_KEY) => ({ authorization: `Bearer ${key}` });

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
