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
    const { body: task } = await http(stack.apiUrl, 'POST', '/v1/tasks', {
      type: 'file.clean',
      payload: { fileId: uploaded.id, rules: { ...rules, dedupe: undefined } },
    });
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

  async function filesOfTask(taskId: string): Promise<number> {
    const ledger = new Client({ connectionString: stack.database.url });
    await ledger.connect();
    try {
      return (await ledger.query('SELECT count(*)::int AS n FROM files WHERE task_id = $1', [taskId])).rows[0].n;
    } finally {
      await ledger.end();
    }
  }

  async function uploadCount(): Promise<number> {
    const ledger = new Client({ connectionString: stack.database.url });
    await ledger.connect();
    try {
      return (await ledger.query("SELECT count(*)::int AS n FROM files WHERE kind = 'upload'")).rows[0].n;
    } finally {
      await ledger.end();
    }
  }

  async function postCleaningJob(rules: string, file = 'id,d\n1,2024-01-05\n') {
    const form = new FormData();
    form.append('rules', rules);
    form.append('file', new Blob([file], { type: 'text/csv' }), 'd.csv');
    const response = await fetch(`${stack.apiUrl}/v1/cleaning-jobs`, { method: 'POST', body: form, headers: auth });
    return { status: response.status, body: (await response.json()) as any };
  }

  // Issue 11, defects 2 and 11: the hostile formats froze the worker for 70 s; `rules: []`
  // was accepted and failed in the worker. Both are refused up front now, with their own codes.
  it('refuses too complex or malformed rules with RULES_TOO_COMPLEX and INVALID_RULES, keeping no upload', async () => {
    const before = await uploadCount();
    const hostile = JSON.stringify({ columns: { d: { type: 'date', onInvalid: 'null', formats: Array(50).fill('[x]'.repeat(18) + 'YYYYMMDD') } } });
    const file = 'id,d\n' + Array.from({ length: 80 }, (_, i) => `${i},${'x'.repeat(19)}`).join('\n') + '\n';
    const complex = await postCleaningJob(hostile, file);
    expect(complex.status).toBe(400);
    expect(complex.body.error).toMatchObject({
      code: 'RULES_TOO_COMPLEX',
      details: expect.arrayContaining([expect.objectContaining({ field: 'rules.columns.d.formats', code: 'RULES_TOO_COMPLEX' })]),
    });

    const empty = await postCleaningJob('[]');
    expect(empty.status).toBe(400);
    expect(empty.body.error).toMatchObject({ code: 'INVALID_RULES', details: [{ field: 'rules' }] });
    const nested = await postCleaningJob(JSON.stringify({ dedupe: [], columns: { d: { type: 'date', formats: ['MM-DD'] } } }));
    expect(nested.status).toBe(400);
    expect(nested.body.error.code).toBe('INVALID_RULES');
    expect(nested.body.error.details.map((d: { field: string }) => d.field)).toEqual(expect.arrayContaining(['rules.dedupe', 'rules.columns.d.formats']));
    expect(await uploadCount()).toBe(before);

    // The task route checks the same rules.
    const task = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'file.clean', payload: { fileId: '01936f7c-0000-7000-8000-000000000001', rules: [] } });
    expect(task.status).toBe(400);
    expect(task.body.error.details.map((d: { field: string }) => d.field)).toEqual(['payload.rules']);
  });

  // Issue 11, defect 11: UTF-16 was decoded as latin1 and the job completed with garbled output.
  it('cleans a UTF-16 file by its BOM into UTF-8', async () => {
    const text = 'Name,City\r\n Zoë ,Köln\r\n';
    const form = new FormData();
    form.append('rules', JSON.stringify({ trimWhitespace: true }));
    form.append('file', new Blob([Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])], { type: 'text/csv' }), 'u16.csv');
    const response = await fetch(`${stack.apiUrl}/v1/cleaning-jobs`, { method: 'POST', body: form, headers: auth });
    expect(response.status).toBe(202);
    const { task } = (await response.json()) as { task: { id: string } };
    const done = await waitForTerminal(stack.apiUrl, task.id);
    expect(done.status).toBe('completed');
    const result = done.result as { outputFileId: string; report: { input: { encoding: string } } };
    expect(result.report.input.encoding).toBe('utf-16le');
    expect((await download(stack, result.outputFileId)).body.toString('utf8')).toBe('\ufeffName,City\r\nZoë,Köln\r\n');
  });

  // Issue 11, defect 2 (c): the engine runs on a thread, so a long CPU-bound clean leaves the
  // worker's event loop free (health answers, locks renew) and its time limit stops it mid-file.
  it('stops a CPU-heavy clean at its time limit while the worker keeps answering its health checks', async () => {
    const row = 'someone@example.com , Some   Body ,2024-01-05,42,comment\n';
    const big = Buffer.from('Email , Full  Name,Signup Date,Age,Comment\n' + row.repeat(600_000));
    const form = new FormData();
    form.append('file', new Blob([big], { type: 'text/csv' }), 'heavy.csv');
    const uploaded = (await (await fetch(`${stack.apiUrl}/v1/files`, { method: 'POST', body: form, headers: auth })).json()) as { id: string };
    const heavyRules = { ...rules, columns: { ...rules.columns, signup_date: { type: 'date', formats: ['[x][y][z]YYYY-MM-DD', 'YYYYMMDD'] } } };
    const { body: task } = await http(stack.apiUrl, 'POST', '/v1/tasks', {
      type: 'file.clean',
      payload: { fileId: uploaded.id, rules: heavyRules },
      timeoutMs: 700,
      maxAttempts: 1,
    });
    expect(task.status).toBe('queued');

    // Probe the worker's liveness every 50 ms until the task ends; a probe that takes a second
    // means the loop was held (a probe on an idle worker answers in a few milliseconds).
    const probes: Array<{ status: number; ms: number }> = [];
    let done: Awaited<ReturnType<typeof waitForTerminal>> | undefined;
    const ended = waitForTerminal(stack.apiUrl, task.id).then((view) => (done = view));
    while (!done) {
      const started = performance.now();
      const response = await fetch(`${stack.workerUrl}/health/live`, { signal: AbortSignal.timeout(10_000) });
      probes.push({ status: response.status, ms: performance.now() - started });
      await response.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await ended;
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'TIMEOUT' } });
    expect(probes.length).toBeGreaterThan(5);
    expect(probes.every((probe) => probe.status === 200)).toBe(true);
    expect(Math.max(...probes.map((probe) => probe.ms))).toBeLessThan(1000);
    expect(await filesOfTask(task.id)).toBe(0);
    // The worker is still whole: the next task runs.
    const next = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'file.clean', payload: { fileId: uploaded.id, rules: { trimWhitespace: true } } });
    expect((await waitForTerminal(stack.apiUrl, next.body.id, 60_000)).status).toBe('completed');
  });
});
