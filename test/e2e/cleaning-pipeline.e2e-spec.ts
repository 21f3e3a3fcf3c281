import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import type { SqlDialect } from '@conveyor/database';
import { DIALECTS, freePort, uniqueName, waitFor, type AppProcess } from '@conveyor/testing';
import { http, startStack, TEST_ADMIN_KEY, waitForTerminal, type Stack, type TaskView } from './support/stack';

const FIXTURES = join(__dirname, 'fixtures');
const fixture = (name: string) => readFileSync(join(FIXTURES, name));
const auth = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
const rules = JSON.parse(fixture('rules.json').toString());
const LOCK_MS = 2000;
const STALL_CHECK_MS = 1000;

type PipelineTask = TaskView & {
  payload: Record<string, any>;
  result: any;
  pipeline: { input: Record<string, any>; steps: unknown[] } | null;
  children?: Array<{ id: string }>;
};

/** The two steps of the tests: the cleaned file read back and checked, then a log line with what the chain handed on. */
const STEPS = [{ type: 'file.checksum' }, { type: 'system.log', payload: { message: 'crm import cleaned' }, tags: ['crm'] }];

/**
 * The cleaning pipeline (`then` on POST /v1/cleaning-jobs) through the API and the worker as
 * processes, on each ledger dialect: each step runs as a follow-up of the one before, once the
 * one before completed; a refused pipeline stores nothing; a worker killed between the cleaning's
 * commit and queuing its step still runs the step exactly once.
 */
describe.each(DIALECTS)('cleaning pipeline (%s)', (dialect: SqlDialect) => {
  let stack: Stack;
  const workers: AppProcess[] = [];
  // Storage of this stack's own, so a test can change a stored file behind the API's back.
  const storageDir = mkdtempSync(join(tmpdir(), 'conveyor-pipeline-'));
  const startWorker = async (env: Record<string, string> = {}) => {
    const worker = await stack.startWorker({ WORKER_ID: uniqueName('pw'), WORKER_HEALTH_PORT: String(await freePort()), ...env });
    workers.push(worker);
    return worker;
  };
  const task = async (id: string): Promise<PipelineTask> => (await http(stack.apiUrl, 'GET', `/v1/tasks/${id}`)).body;
  const chain = async (rootId: string): Promise<PipelineTask[]> =>
    ((await http(stack.apiUrl, 'GET', `/v1/tasks?rootId=${rootId}&limit=100`)).body.tasks as PipelineTask[]).reverse();
  const count = async (sql: string): Promise<number> => {
    if (dialect === 'postgres') {
      const client = new Client({ connectionString: stack.database.url });
      await client.connect();
      try {
        return Number((await client.query(sql)).rows[0].n);
      } finally {
        await client.end();
      }
    }
    const connection = await createConnection({ uri: stack.database.url });
    try {
      const [rows] = await connection.query(sql);
      return Number((rows as Array<{ n: number }>)[0].n);
    } finally {
      await connection.end();
    }
  };
  const stored = async () => ({ tasks: await count('SELECT count(*) AS n FROM tasks'), files: await count('SELECT count(*) AS n FROM files') });

  async function postCleaningJob(fields: Record<string, string>, file: Buffer = fixture('dirty.csv')) {
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append('file', new Blob([file], { type: 'text/csv' }), 'crm.csv');
    const response = await fetch(`${stack.apiUrl}/v1/cleaning-jobs`, { method: 'POST', body: form, headers: auth });
    return { status: response.status, body: (await response.json()) as any };
  }

  async function download(id: string): Promise<Buffer> {
    const response = await fetch(`${stack.apiUrl}/v1/files/${id}/content`, { headers: auth });
    expect(response.status).toBe(200);
    return Buffer.from(await response.arrayBuffer());
  }

  /** Waits until the chain under `rootId` holds `size` tasks, all finished. */
  const finishedChain = (rootId: string, size: number) =>
    waitFor(
      async () => {
        const tasks = await chain(rootId);
        return tasks.length === size && tasks.every((t) => ['completed', 'failed', 'cancelled'].includes(t.status)) ? tasks : undefined;
      },
      { timeoutMs: 30_000, what: `${size} finished steps under ${rootId}` },
    );

  beforeAll(async () => {
    stack = await startStack({
      dialect,
      worker: false,
      env: { WORKER_LOCK_DURATION_MS: String(LOCK_MS), WORKER_STALLED_INTERVAL_MS: String(STALL_CHECK_MS), STORAGE_DIR: storageDir },
    });
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await stack?.stop();
    rmSync(storageDir, { recursive: true, force: true });
  });

  describe('with a worker', () => {
    let worker: AppProcess;
    beforeAll(async () => {
      worker = await startWorker();
    });
    afterAll(async () => {
      await worker.stop();
    });

    it('cleans, then runs each step in order as a follow-up of the one before, handed what came before', async () => {
      const accepted = await postCleaningJob({ rules: JSON.stringify(rules), then: JSON.stringify(STEPS) });
      expect(accepted.status).toBe(202);
      expect(accepted.body.task).toMatchObject({ type: 'file.clean', pipeline: { input: {}, steps: STEPS } });
      const clean = await waitForTerminal(stack.apiUrl, accepted.body.task.id, 30_000);
      expect(clean.status).toBe('completed');
      const cleaned = clean.result as { outputFileId: string; rejectsFileId: string; reportFileId: string };

      const [checksum, log] = await finishedChain(clean.id, 2);
      // The checksum step: a child of the cleaning task, run on its cleaned output.
      expect(checksum).toMatchObject({ type: 'file.checksum', status: 'completed', attempts: 1, parentId: clean.id, rootId: clean.id });
      expect(checksum.payload).toEqual({ fileId: cleaned.outputFileId });
      const summary = { rowsIn: 7, rowsOut: 3, rowsRejected: 2, duplicatesRemoved: 1, emptyRowsDropped: 1 };
      const fromCleaning = { fileId: cleaned.outputFileId, rejectsFileId: cleaned.rejectsFileId, reportFileId: cleaned.reportFileId, summary };
      expect(checksum.pipeline).toEqual({ input: fromCleaning, steps: [STEPS[1]] });
      const bytes = await download(cleaned.outputFileId);
      expect(bytes.equals(fixture('expected-clean.csv'))).toBe(true);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      expect(checksum.result).toEqual({ fileId: cleaned.outputFileId, name: 'crm.clean.csv', bytes: bytes.length, sha256, lines: 4 });

      // The log step: a child of the checksum step, in the same chain, handed everything before it.
      expect(log).toMatchObject({ type: 'system.log', status: 'completed', attempts: 1, parentId: checksum.id, rootId: clean.id, tags: ['crm'] });
      const input = { ...fromCleaning, sha256, bytes: bytes.length };
      expect(log.payload).toEqual({ message: 'crm import cleaned', input });
      expect(log.result).toEqual({ message: 'crm import cleaned', input });
      expect(log.pipeline).toEqual({ input, steps: [] });
      // In order: a step is queued only once the task before it has committed its end.
      expect(Date.parse(checksum.startedAt!)).toBeGreaterThanOrEqual(Date.parse(clean.finishedAt!));
      expect(Date.parse(log.startedAt!)).toBeGreaterThanOrEqual(Date.parse(checksum.finishedAt!));

      // The cleaning task lists its first step as its child; the chain is the whole pipeline.
      expect((await task(clean.id)).children).toEqual([expect.objectContaining({ id: checksum.id })]);
    });

    it('cleans, then exports the cleaned rows as JSON Lines: the export is downloadable, its rows are the cleaned ones, and the next step is handed it', async () => {
      const steps = [{ type: 'export.create', payload: { source: 'file', format: 'jsonl' } }, { type: 'file.checksum' }];
      const accepted = await postCleaningJob({ rules: JSON.stringify(rules), then: JSON.stringify(steps) });
      expect(accepted.status).toBe(202);
      const clean = await waitForTerminal(stack.apiUrl, accepted.body.task.id, 30_000);
      expect(clean.status).toBe('completed');
      const cleanedFileId = (clean.result as { outputFileId: string }).outputFileId;

      const [exported, checksum] = await finishedChain(clean.id, 2);
      expect(exported).toMatchObject({ type: 'export.create', status: 'completed', attempts: 1, parentId: clean.id, rootId: clean.id });
      expect(exported.payload).toEqual({ source: 'file', format: 'jsonl', fileId: cleanedFileId });
      const view = (await http(stack.apiUrl, 'GET', `/v1/exports/${exported.id}`)).body;
      expect(view).toMatchObject({ status: 'completed', source: 'file', format: 'jsonl', rows: 3, fileName: 'crm.clean.jsonl' });
      const download = await fetch(view.downloadUrl);
      expect(download.status).toBe(200);
      const bytes = Buffer.from(await download.arrayBuffer());
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(view.sha256);
      // The rows of the cleaned CSV, typed as the cleaning typed them (age an integer, an emptied date null).
      expect(
        bytes
          .toString()
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line)),
      ).toEqual([
        { email: 'ann@example.com', full_name: 'Ann Lee', signup_date: '2024-01-05', age: 34 },
        { email: 'bob@example.com', full_name: 'Bob', signup_date: '2024-02-05', age: 41 },
        { email: 'dora@example.com', full_name: 'Dora', signup_date: null, age: 50 },
      ]);

      // The step after it is handed the export: its id and its file (now the chain's latest file).
      const exportFileId = exported.result.fileId as string;
      expect(checksum).toMatchObject({ type: 'file.checksum', status: 'completed', parentId: exported.id, payload: { fileId: exportFileId } });
      expect(checksum.result).toMatchObject({ fileId: exportFileId, sha256: view.sha256, bytes: view.bytes, lines: 3 });
      expect(checksum.pipeline!.input).toMatchObject({ exportId: exported.id, fileId: exportFileId, rows: 3, sha256: view.sha256, bytes: view.bytes });
    });

    it('takes JSON naming a file uploaded before, with the same pipeline', async () => {
      const form = new FormData();
      form.append('file', new Blob([fixture('dirty.csv')], { type: 'text/csv' }), 'crm.csv');
      const upload = (await (await fetch(`${stack.apiUrl}/v1/files`, { method: 'POST', body: form, headers: auth })).json()) as { id: string };
      const accepted = await http(stack.apiUrl, 'POST', '/v1/cleaning-jobs', {
        fileId: upload.id,
        rules,
        then: [{ type: 'system.log', payload: { level: 'warn' } }],
      });
      expect(accepted.status).toBe(202);
      expect(accepted.headers.get('location')).toBe(`/v1/tasks/${accepted.body.task.id}`);
      expect(accepted.body).toMatchObject({ task: { type: 'file.clean', payload: { fileId: upload.id, rules } }, file: { id: upload.id, kind: 'upload' } });
      const clean = await waitForTerminal(stack.apiUrl, accepted.body.task.id, 30_000);
      const [log] = await finishedChain(clean.id, 1);
      expect(log).toMatchObject({ type: 'system.log', status: 'completed', parentId: clean.id });
      expect(log.payload.input.fileId).toBe((clean.result as { outputFileId: string }).outputFileId);

      const before = await stored();
      const missing = await http(stack.apiUrl, 'POST', '/v1/cleaning-jobs', { fileId: '01936f7c-0000-7000-8000-000000000001', then: [{ type: 'system.log' }] });
      expect(missing).toMatchObject({ status: 404, body: { error: { code: 'FILE_NOT_FOUND' } } });
      const refused = await http(stack.apiUrl, 'POST', '/v1/cleaning-jobs', { fileId: upload.id, then: [{ type: 'system.sleep', payload: { ms: 1 } }] });
      expect(refused).toMatchObject({ status: 400, body: { error: { code: 'PIPELINE_STEP_NOT_ALLOWED' } } });
      const unknownField = await http(stack.apiUrl, 'POST', '/v1/cleaning-jobs', { fileId: upload.id, colour: 'blue' });
      expect(unknownField).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
      expect(await stored()).toEqual(before);
    });

    it('file.checksum fails with CHECKSUM_MISMATCH when the stored bytes changed since they were stored', async () => {
      const form = new FormData();
      form.append('file', new Blob([fixture('dirty.csv')], { type: 'text/csv' }), 'crm.csv');
      const upload = (await (await fetch(`${stack.apiUrl}/v1/files`, { method: 'POST', body: form, headers: auth })).json()) as { id: string; sha256: string };
      const intact = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'file.checksum', payload: { fileId: upload.id } });
      expect(await waitForTerminal(stack.apiUrl, intact.body.id)).toMatchObject({ status: 'completed', result: { sha256: upload.sha256 } });

      // Same size, one byte different: only the hash can tell.
      const tampered = Buffer.from(fixture('dirty.csv'));
      tampered[0] = tampered[0] === 0x45 ? 0x65 : 0x45;
      writeFileSync(join(storageDir, 'default', upload.id), tampered);
      const checked = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'file.checksum', payload: { fileId: upload.id }, maxAttempts: 1 });
      expect(await waitForTerminal(stack.apiUrl, checked.body.id)).toMatchObject({ status: 'failed', error: { code: 'CHECKSUM_MISMATCH' } });
    });

    it('runs no step after a cleaning that fails', async () => {
      const utf32 = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x00]), Buffer.from('a\0\0\0\n\0\0\0', 'latin1')]);
      const accepted = await postCleaningJob({ then: JSON.stringify(STEPS) }, utf32);
      expect(accepted.status).toBe(202);
      const clean = await waitForTerminal(stack.apiUrl, accepted.body.task.id, 30_000);
      expect(clean).toMatchObject({ status: 'failed', error: { code: 'UNSUPPORTED_ENCODING' } });
      // A step would have been written with the cleaning's end, in the same transaction.
      expect(await chain(clean.id)).toEqual([]);
      expect((await task(clean.id)).children).toEqual([]);
    });

    it('runs no step after a cleaning cancelled while it runs', async () => {
      const row = 'someone@example.com , Some   Body ,2024-01-05,42,comment\n';
      const big = Buffer.from('Email , Full  Name,Signup Date,Age,Comment\n' + row.repeat(600_000));
      // Date formats that cost time per cell keep the cleaning busy long enough to cancel it mid-file.
      const slow = { ...rules, dedupe: undefined, columns: { ...rules.columns, signup_date: { type: 'date', formats: ['[x][y][z]YYYY-MM-DD', 'YYYYMMDD'] } } };
      const accepted = await postCleaningJob({ rules: JSON.stringify(slow), then: JSON.stringify(STEPS) }, big);
      expect(accepted.status).toBe(202);
      const id: string = accepted.body.task.id;
      await waitFor(
        async () => {
          const current = await task(id);
          return current.status === 'active' && (current.progress?.percent ?? 0) > 0;
        },
        { timeoutMs: 30_000, what: 'the cleaning to be under way' },
      );
      expect((await http(stack.apiUrl, 'POST', `/v1/tasks/${id}/cancel`)).status).toBe(202);
      expect((await waitForTerminal(stack.apiUrl, id, 30_000)).status).toBe('cancelled');
      expect(await chain(id)).toEqual([]);
    });

    it('refuses a bad pipeline with 400 and a code naming the problem, storing nothing', async () => {
      const before = await stored();
      const cases: Array<[unknown, string, string]> = [
        [[{ type: 'file.checksum' }, { type: 'export.nothing' }], 'UNKNOWN_PIPELINE_STEP', 'then[1].type'],
        [[{ type: 'system.noop' }], 'PIPELINE_STEP_NOT_ALLOWED', 'then[0].type'],
        [[{ type: 'system.log', payload: { level: 'debug' } }], 'INVALID_PIPELINE_STEP', 'then[0].payload.level'],
        [[{ type: 'file.checksum', payload: { fileId: '01936f7c-0000-7000-8000-000000000001' } }], 'INVALID_PIPELINE_STEP', 'then[0].payload.fileId'],
        [[{ type: 'system.log', maxAttempts: 0 }], 'INVALID_PIPELINE_STEP', 'then[0].maxAttempts'],
        // the pipeline would hand this export a fileId, which source "tasks" does not take
        [[{ type: 'export.create', payload: { source: 'tasks', format: 'csv' } }], 'NOT_FOR_SOURCE', 'then[0].payload.source'],
        [Array.from({ length: 11 }, () => ({ type: 'system.log' })), 'PIPELINE_TOO_LONG', 'then'],
        [{ type: 'system.log' }, 'INVALID_PIPELINE_STEP', 'then'],
      ];
      for (const [then, code, field] of cases) {
        const refused = await postCleaningJob({ rules: JSON.stringify(rules), then: JSON.stringify(then) });
        expect({ then, status: refused.status, code: refused.body.error?.code }).toEqual({ then, status: 400, code });
        expect(refused.body.error.details).toEqual(expect.arrayContaining([expect.objectContaining({ field, code })]));
      }
      const notJson = await postCleaningJob({ then: '[{"type":' });
      expect(notJson).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED', details: [{ field: 'then' }] } } });
      expect(await stored()).toEqual(before);
    });
  });

  it('runs the step exactly once when the worker dies between the cleaning’s commit and queuing the step', async () => {
    const victim = await startWorker({ CONVEYOR_FAILPOINTS: 'after-follow-up-commit' });
    const accepted = await postCleaningJob({ rules: JSON.stringify(rules), then: JSON.stringify(STEPS) });
    expect(accepted.status).toBe(202);
    const cleanId: string = accepted.body.task.id;
    await waitFor(() => victim.child.exitCode !== null || victim.child.signalCode !== null, { timeoutMs: 30_000, what: 'the worker to die at the failpoint' });
    expect(victim.child.signalCode).toBe('SIGKILL');
    // Committed with the cleaning's completion, never queued: the step waits in the ledger.
    expect((await task(cleanId)).status).toBe('completed');
    const committed = await chain(cleanId);
    expect(committed.map((t) => [t.type, t.status])).toEqual([['file.checksum', 'queued']]);

    // Another worker takes the cleaning over (its lock expired) and runs it again: the step it
    // asks for again is the one already written, now queued and run once; the chain goes on.
    const rescuer = await startWorker();
    try {
      const [checksum, log] = await finishedChain(cleanId, 2);
      expect((await task(cleanId)).attempts).toBe(2);
      expect(checksum.id).toBe(committed[0].id);
      expect([checksum, log].map((t) => [t.type, t.status, t.attempts])).toEqual([
        ['file.checksum', 'completed', 1],
        ['system.log', 'completed', 1],
      ]);
      expect(log.parentId).toBe(checksum.id);
      // The step kept the input of the run that committed first: a cleaned file of this task.
      const file = (await http(stack.apiUrl, 'GET', `/v1/files/${checksum.payload.fileId}`)).body;
      expect(file).toMatchObject({ kind: 'output', taskId: cleanId, sha256: checksum.result.sha256 });
    } finally {
      await rescuer.stop();
    }
  });
});
