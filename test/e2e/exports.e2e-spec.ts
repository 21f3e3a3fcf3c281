import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DownloadLinks } from '@conveyor/exports';
import { waitFor } from '@conveyor/testing';
import { http, startStack, TEST_ADMIN_KEY, type Stack } from './support/stack';

const LINK_SECRET = 'e2e-export-link-secret-0123456789abcdefghij';
const ROWS = 3000;
const BIG_ROWS = 300_000;

/** `count` completed tasks of the admin key's tenant ("default"), written by the database itself. */
async function seed(stack: Stack, tenant: string, count: number, offset: number): Promise<void> {
  const client = new Client({ connectionString: stack.database.url, statement_timeout: 120_000 });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO tasks (id, tenant_id, type, queue, status, priority, payload, attempts, max_attempts, attempt_budget, timeout_ms, created_at, updated_at)
       SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, $1, 'report.render', 'reports', 'completed', 5,
              jsonb_build_object('n', g, 'note', '=cmd|' || g), 1, 3, 3, 30000, now(), now()
       FROM generate_series($2::bigint, $3::bigint) AS g`,
      [tenant, offset + 1, offset + count],
    );
  } finally {
    await client.end();
  }
}

async function storedExportFiles(stack: Stack, taskId: string): Promise<number> {
  const client = new Client({ connectionString: stack.database.url });
  await client.connect();
  try {
    return Number((await client.query('SELECT COUNT(*) AS n FROM files WHERE task_id = $1', [taskId])).rows[0].n);
  } finally {
    await client.end();
  }
}

const finished = (stack: Stack, id: string, timeoutMs = 60_000) =>
  waitFor(
    async () => {
      const { body } = await http(stack.apiUrl, 'GET', `/v1/exports/${id}`);
      return ['completed', 'failed', 'cancelled'].includes(body.status) ? body : undefined;
    },
    { timeoutMs, what: `export ${id} to finish` },
  );

/** Exports through the API and the separate worker: create, follow, download by the signed link. */
describe('exports end to end', () => {
  let stack: Stack;
  let storageDir: string;

  beforeAll(async () => {
    storageDir = mkdtempSync(join(tmpdir(), 'conveyor-e2e-exports-'));
    stack = await startStack({ env: { EXPORT_LINK_SECRET: LINK_SECRET, STORAGE_DIR: storageDir } });
    await seed(stack, 'default', ROWS, 0);
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(storageDir, { recursive: true, force: true });
  });

  it('exports the tenant’s tasks as gzipped CSV; the signed link downloads exactly the bytes described', async () => {
    const created = await http(stack.apiUrl, 'POST', '/v1/exports', {
      source: 'tasks',
      format: 'csv',
      compression: 'gzip',
      filters: { type: 'report.render', fields: ['id', 'status', 'payload'] },
    });
    expect(created.status).toBe(202);
    expect(created.headers.get('location')).toBe(`/v1/exports/${created.body.id}`);
    expect(created.body).toMatchObject({ source: 'tasks', format: 'csv', compression: 'gzip', downloadUrl: null });

    const done = await finished(stack, created.body.id);
    expect(done).toMatchObject({ status: 'completed', rows: ROWS, fileName: 'tasks.csv.gz', progress: { percent: 100 } });
    expect(new Date(done.downloadUrlExpiresAt).getTime()).toBeGreaterThan(Date.now());
    expect(new Date(done.expiresAt).getTime()).toBeGreaterThan(new Date(done.downloadUrlExpiresAt).getTime());

    // No API key: the link is the credential.
    const download = await fetch(done.downloadUrl);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/gzip');
    expect(download.headers.get('content-disposition')).toContain('tasks.csv.gz');
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(bytes.length).toBe(done.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(done.sha256);
    const { gunzipSync } = await import('node:zlib');
    const lines = gunzipSync(bytes).toString().split('\r\n');
    expect(lines[0]).toBe('id,status,payload');
    expect(lines).toHaveLength(ROWS + 2);
    expect(lines[1]).toMatch(/^00000000-0000-7000-8000-000000000001,completed,"\{""n"": 1, ""note"": ""=cmd\|1""\}"$/);

    // It is a task too.
    expect((await http(stack.apiUrl, 'GET', `/v1/tasks/${created.body.id}`)).body).toMatchObject({
      type: 'export.create',
      queue: 'exports',
      status: 'completed',
    });
  });

  it('refuses an altered link as LINK_INVALID and an old one as LINK_EXPIRED (403), and a link needs no key but only works as signed', async () => {
    const created = await http(stack.apiUrl, 'POST', '/v1/exports', { source: 'tasks', format: 'jsonl' });
    const done = await finished(stack, created.body.id);
    const url = new URL(done.downloadUrl);
    const code = async (target: URL) => {
      const response = await fetch(target);
      return { status: response.status, code: response.status === 200 ? null : ((await response.json()) as any).error.code };
    };
    expect(await code(url)).toEqual({ status: 200, code: null });

    const altered = (change: (params: URLSearchParams) => void) => {
      const copy = new URL(url);
      change(copy.searchParams);
      return copy;
    };
    const signature = url.searchParams.get('signature')!;
    expect(await code(altered((p) => p.set('signature', signature.slice(0, -1) + (signature.endsWith('A') ? 'B' : 'A'))))).toEqual({
      status: 403,
      code: 'LINK_INVALID',
    });
    expect(await code(altered((p) => p.set('expires', String(Number(p.get('expires')) + 3600))))).toEqual({ status: 403, code: 'LINK_INVALID' });
    expect(await code(altered((p) => p.set('tenant', 'other')))).toEqual({ status: 403, code: 'LINK_INVALID' });
    expect(await code(altered((p) => p.delete('signature')))).toEqual({ status: 403, code: 'LINK_INVALID' });
    const otherExport = new URL(url.toString().replace(created.body.id, '01936f7c-0000-7000-8000-000000000001'));
    expect(await code(otherExport)).toEqual({ status: 403, code: 'LINK_INVALID' });

    // A link signed with the deployment's key whose time has passed.
    const old = new DownloadLinks(LINK_SECRET).sign('default', created.body.id, Math.floor(Date.now() / 1000) - 1);
    const expired = altered((p) => {
      p.set('expires', String(old.expires));
      p.set('signature', old.signature);
    });
    expect(await code(expired)).toEqual({ status: 403, code: 'LINK_EXPIRED' });
  });

  it('refuses bad input with clear codes and stores nothing', async () => {
    const before = (await http(stack.apiUrl, 'GET', '/v1/tasks?type=export.create&limit=200')).body.tasks.length;
    const refuse = async (body: unknown, status: number, code: string, field?: string) => {
      const response = await http(stack.apiUrl, 'POST', '/v1/exports', body);
      expect({ body, status: response.status, code: response.body.error?.code }).toEqual({ body, status, code });
      if (field) expect(response.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
    };
    await refuse({ source: 'warehouse', format: 'csv' }, 400, 'VALIDATION_FAILED', 'source');
    await refuse({ source: 'tasks', format: 'xlsx' }, 400, 'VALIDATION_FAILED', 'format');
    await refuse({ source: 'tasks', format: 'csv', compression: 'zip' }, 400, 'VALIDATION_FAILED', 'compression');
    await refuse({ source: 'tasks', format: 'csv', filters: 'status=failed' }, 400, 'VALIDATION_FAILED', 'filters');
    await refuse({ source: 'tasks', format: 'csv', filters: { colour: 'red' } }, 400, 'VALIDATION_FAILED', 'filters.colour');
    await refuse({ source: 'tasks', format: 'csv', filters: { createdFrom: 'last tuesday' } }, 400, 'VALIDATION_FAILED', 'filters.createdFrom');
    await refuse({ source: 'tasks', format: 'csv', filters: { fields: ['id', 'password'] } }, 400, 'VALIDATION_FAILED', 'filters.fields');
    await refuse(
      { source: 'tasks', format: 'csv', filters: { createdFrom: '2031-02-01T00:00:00Z', createdTo: '2031-01-01T00:00:00Z' } },
      400,
      'INVALID_TIME_RANGE',
    );
    await refuse({ source: 'file', format: 'csv' }, 400, 'VALIDATION_FAILED', 'fileId');
    await refuse({ source: 'file', format: 'csv', fileId: '01936f7c-0000-7000-8000-000000000001', filters: {} }, 400, 'NOT_FOR_SOURCE');
    await refuse({ source: 'file', format: 'jsonl', fileId: '01936f7c-0000-7000-8000-000000000001' }, 404, 'FILE_NOT_FOUND');

    // Another tenant's file is not found either.
    const form = new FormData();
    form.append('file', new Blob(['a,b\n1,2\n'], { type: 'text/csv' }), 'theirs.csv');
    const other = (await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant: 'other', scopes: ['tasks:read', 'tasks:write'] })).body.key;
    const theirs = (await (await fetch(`${stack.apiUrl}/v1/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${other}` } })).json()) as {
      id: string;
    };
    await refuse({ source: 'file', format: 'jsonl', fileId: theirs.id }, 404, 'FILE_NOT_FOUND');
    // An upload is no cleaned output: refused up front rather than failing later.
    const mine = new FormData();
    mine.append('file', new Blob(['a,b\n1,2\n'], { type: 'text/csv' }), 'mine.csv');
    const own = (await (
      await fetch(`${stack.apiUrl}/v1/files`, { method: 'POST', body: mine, headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } })
    ).json()) as { id: string };
    await refuse({ source: 'file', format: 'jsonl', fileId: own.id }, 400, 'NOT_CLEANED_OUTPUT', 'fileId');

    expect((await http(stack.apiUrl, 'GET', '/v1/tasks?type=export.create&limit=200')).body.tasks.length).toBe(before);
    // An id that is not an export's.
    const plain = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} });
    expect((await http(stack.apiUrl, 'GET', `/v1/exports/${plain.body.id}`)).body.error.code).toBe('EXPORT_NOT_FOUND');
    expect((await http(stack.apiUrl, 'GET', '/v1/exports/not-an-id')).status).toBe(404);
  });

  it('cancel stops a running export mid-stream and removes its partial file', async () => {
    await seed(stack, 'bulk', BIG_ROWS, 1_000_000);
    const key = (await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant: 'bulk', scopes: ['tasks:read', 'tasks:write'] })).body.key;
    const as = { authorization: `Bearer ${key}` };
    const created = await http(stack.apiUrl, 'POST', '/v1/exports', { source: 'tasks', format: 'json' }, as);
    expect(created.status).toBe(202);
    const running = await waitFor(
      async () => {
        const { body } = await http(stack.apiUrl, 'GET', `/v1/exports/${created.body.id}`, undefined, as);
        return body.status === 'active' && body.progress?.percent > 0 ? body : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20, what: 'the export to be under way' },
    );
    expect(running.progress.percent).toBeLessThan(100);
    const cancel = await http(stack.apiUrl, 'POST', `/v1/exports/${created.body.id}/cancel`, undefined, as);
    expect(cancel.status).toBe(202);
    expect(cancel.body.cancellation).toBe('cancelling');
    const done = await waitFor(
      async () => {
        const { body } = await http(stack.apiUrl, 'GET', `/v1/exports/${created.body.id}`, undefined, as);
        return ['completed', 'failed', 'cancelled'].includes(body.status) ? body : undefined;
      },
      { timeoutMs: 30_000, what: 'the export to stop' },
    );
    expect(done).toMatchObject({ status: 'cancelled', downloadUrl: null, rows: null });
    expect(await storedExportFiles(stack, created.body.id)).toBe(0);
    // The attempt ends as the signal fires; the handler's clean-up (the partial's removal) follows at once.
    const bulkDir = join(storageDir, 'bulk');
    await waitFor(() => readdirSync(bulkDir, { withFileTypes: true }).filter((entry) => entry.isFile()).length === 0, {
      timeoutMs: 5000,
      what: 'the partial file to go',
    });
    expect((await http(stack.apiUrl, 'POST', `/v1/exports/${created.body.id}/cancel`, undefined, as)).status).toBe(409);
  }, 90_000);
});
