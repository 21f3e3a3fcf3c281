import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { http, startStack, TEST_ADMIN_KEY, waitForTerminal, type Stack } from './support/stack';

const FIXTURES = join(__dirname, 'fixtures');
const fixture = (name: string) => readFileSync(join(FIXTURES, name));
const auth = { authorization: `Bearer ${TEST_ADMIN_KEY}` };

async function download(stack: Stack, id: string): Promise<{ body: Buffer; headers: Headers }> {
  const response = await fetch(`${stack.apiUrl}/v1/files/${id}/content`, { headers: auth });
  expect(response.status).toBe(200);
  return { body: Buffer.from(await response.arrayBuffer()), headers: response.headers };
}

/** The flagship path: upload through the API, clean on the separate worker, download the results. */
describe('file cleaning end to end', () => {
  let stack: Stack;
  const rules = JSON.parse(fixture('rules.json').toString());

  beforeAll(async () => {
    stack = await startStack();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('cleans an uploaded dirty CSV into the expected file, rejects and report', async () => {
    const form = new FormData();
    form.append('file', new Blob([fixture('dirty.csv')], { type: 'text/csv' }), 'dirty.csv');
    const uploaded = (await (await fetch(`${stack.apiUrl}/v1/files`, { method: 'POST', body: form, headers: auth })).json()) as { id: string };

    const created = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'file.clean', payload: { fileId: uploaded.id, rules } });
    expect(created.status).toBe(202);
    const done = await waitForTerminal(stack.apiUrl, created.body.id);
    expect(done.status).toBe('completed');
    const result = done.result as { outputFileId: string; rejectsFileId: string; reportFileId: string; report: Record<string, unknown> };
    expect(result.report).toMatchObject({ rowsIn: 7, rowsOut: 3, rowsRejected: 2, duplicatesRemoved: 1, emptyRowsDropped: 1 });

    const clean = await download(stack, result.outputFileId);
    expect(clean.body.toString()).toBe(fixture('expected-clean.csv').toString());
    expect(clean.body.equals(fixture('expected-clean.csv'))).toBe(true);
    expect(clean.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(clean.headers.get('content-disposition')).toContain('dirty.clean.csv');
    expect((await download(stack, result.rejectsFileId)).body.equals(fixture('expected-rejects.csv'))).toBe(true);
    const report = JSON.parse((await download(stack, result.reportFileId)).body.toString());
    expect(report).toMatchObject({ rowsIn: 7, rowsOut: 3, output: { columns: ['email', 'full_name', 'signup_date', 'age'] } });
    expect((await http(stack.apiUrl, 'GET', `/v1/files/${result.outputFileId}`)).body).toMatchObject({ kind: 'output', taskId: done.id });
  });

  it('does it in one call with POST /v1/cleaning-jobs (multipart: rules, then file)', async () => {
    const form = new FormData();
    form.append('rules', JSON.stringify(rules));
    form.append('file', new Blob([fixture('dirty.csv')], { type: 'text/csv' }), 'crm.csv');
    const response = await fetch(`${stack.apiUrl}/v1/cleaning-jobs`, { method: 'POST', body: form, headers: auth });
    expect(response.status).toBe(202);
    const { task, file } = (await response.json()) as { task: { id: string; type: string }; file: { name: string } };
    expect(task.type).toBe('file.clean');
    expect(file.name).toBe('crm.csv');
    const done = await waitForTerminal(stack.apiUrl, task.id);
    const result = done.result as { outputFileId: string };
    expect((await download(stack, result.outputFileId)).body.equals(fixture('expected-clean.csv'))).toBe(true);
  });

  it('refuses invalid rules with field paths, and fails for good on an unknown file', async () => {
    const invalid = await http(stack.apiUrl, 'POST', '/v1/tasks', {
      type: 'file.clean',
      payload: { fileId: '01936f7c-0000-7000-8000-000000000001', rules: { columns: { age: { type: 'integr' } }, dedupe: { keep: 'middle' } } },
    });
    expect(invalid.status).toBe(400);
    const fields = invalid.body.error.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['payload.rules.dedupe.keep']));
    expect(fields.some((f: string) => f.startsWith('payload.rules.columns'))).toBe(true);

    const missing = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'file.clean', payload: { fileId: '01936f7c-0000-7000-8000-000000000001' } });
    const done = await waitForTerminal(stack.apiUrl, missing.body.id);
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'FILE_NOT_FOUND' } });

    const badForm = new FormData();
    badForm.append('rules', '{not json');
    badForm.append('file', new Blob(['a,b\n1,2\n']), 'x.csv');
    const bad = await fetch(`${stack.apiUrl}/v1/cleaning-jobs`, { method: 'POST', body: badForm, headers: auth });
    expect(bad.status).toBe(400);
  });

  it('reports progress and stops within a second when cancelled, registering no partial output', async () => {
    const row = 'someone@example.com , Some   Body ,2024-01-05,42,comment\n';
    const big = Buffer.from('Email , Full  Name,Signup Date,Age,Comment\n' + row.repeat(1_500_000));
    const form = new FormData();
    form.append('file', new Blob([big], { type: 'text/csv' }), 'big.csv');
    const uploaded = (await (await fetch(`${stack.apiUrl}/v1/files`, { method: 'POST', body: form, headers: auth })).json()) as { id: string };
    const { body: task } = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'file.clean', payload: { fileId: uploaded.id, rules: { ...rules, dedupe: undefined } } });
    let progressed = false;
    for (let i = 0; i < 200 && !progressed; i += 1) {
      const current = (await http(stack.apiUrl, 'GET', `/v1/tasks/${task.id}`)).body;
      progressed = current.status === 'active' && current.progress?.percent > 0 && current.progress.percent < 100;
      if (!progressed) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(progressed).toBe(true);
    const requested = Date.now();
    expect((await http(stack.apiUrl, 'POST', `/v1/tasks/${task.id}/cancel`)).status).toBe(202);
    const done = await waitForTerminal(stack.apiUrl, task.id);
    expect(done.status).toBe('cancelled');
    expect(Date.now() - requested).toBeLessThan(2000);
    expect(done.result).toBeNull();
    const ledger = new Client({ connectionString: stack.database.url });
    await ledger.connect();
    try {
      const { rows } = await ledger.query('SELECT count(*)::int AS n FROM files WHERE task_id = $1', [task.id]);
      expect(rows[0].n).toBe(0);
    } finally {
      await ledger.end();
    }
  });
});
