import { execFile } from 'node:child_process';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TEST_ADMIN_KEY, startStack, type Stack } from './support/stack';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const PACKAGE = join(ROOT, 'libs', 'client');

// The built package, as a consumer gets it (the build runs in beforeAll).
type ClientLib = typeof import('../../libs/client/src/index');
type NestLib = typeof import('../../libs/client/src/nest/index');
let lib: ClientLib;
let nest: NestLib;

/** The client SDK, built as published (ESM + CJS), against the real built API and worker. */
describe('client SDK (@conveyor/client)', () => {
  let stack: Stack;
  let consumer: string;

  beforeAll(async () => {
    await run(process.execPath, [join(ROOT, 'scripts', 'build-client.js')], { cwd: ROOT });
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the built CommonJS entry, loaded at run time
    lib = require(join(PACKAGE, 'dist', 'cjs', 'index.js'));
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the built CommonJS entry, loaded at run time
    nest = require(join(PACKAGE, 'dist', 'cjs', 'nest', 'index.js'));
    // A consumer project that has the package installed under its name.
    consumer = await mkdtemp(join(tmpdir(), 'conveyor-client-consumer-'));
    await mkdir(join(consumer, 'node_modules', '@conveyor'), { recursive: true });
    await symlink(PACKAGE, join(consumer, 'node_modules', '@conveyor', 'client'));
    await symlink(join(ROOT, 'node_modules', '@nestjs'), join(consumer, 'node_modules', '@nestjs'));
    stack = await startStack();
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    if (consumer) await rm(consumer, { recursive: true, force: true });
  });

  const client = () => new lib.ConveyorClient({ url: stack.apiUrl, apiKey: TEST_ADMIN_KEY });

  it('carries a task type map that matches the contracts (regenerate with npm run client:types)', async () => {
    const { stdout } = await run(process.execPath, [join(ROOT, 'scripts', 'generate-client-types.js'), '--check'], { cwd: ROOT });
    expect(stdout).toContain('up to date');
    // The check builds a TypeScript program over the contracts (~10 s of CPU): minutes on a loaded machine.
  }, 300_000);

  it('loads by its package name with import and require, main entry free of Nest', async () => {
    const script = [
      "import { ConveyorClient } from '@conveyor/client';",
      "import { createRequire } from 'node:module';",
      'const require = createRequire(import.meta.url);',
      "const cjs = require('@conveyor/client');",
      "const nestLoaded = Object.keys(require.cache).some((file) => file.includes('@nestjs'));",
      "const nestEntry = await import('@conveyor/client/nest');",
      `const client = new ConveyorClient({ url: ${JSON.stringify(stack.apiUrl)}, apiKey: ${JSON.stringify(TEST_ADMIN_KEY)} });`,
      "const task = await client.tasks.enqueue('system.noop', {});",
      'const done = await client.tasks.waitFor(task.id, { timeoutMs: 60000 });',
      'console.log(JSON.stringify({ status: done.status, cjs: typeof cjs.ConveyorClient, nest: typeof nestEntry.ConveyorClientModule, nestLoaded }));',
    ].join('\n');
    await writeFile(join(consumer, 'esm-check.mjs'), script);
    const { stdout } = await run(process.execPath, [join(consumer, 'esm-check.mjs')], { cwd: consumer });
    expect(JSON.parse(stdout)).toEqual({ status: 'completed', cjs: 'function', nest: 'function', nestLoaded: false });
  }, 90_000);

  it('types payloads from the contracts: a wrong payload does not compile', async () => {
    await writeFile(
      join(consumer, 'typed.ts'),
      [
        "import { ConveyorClient, ConveyorNotFoundError } from '@conveyor/client';",
        "const client = new ConveyorClient({ url: 'http://127.0.0.1', apiKey: 'k' });",
        'export async function ok() {',
        "  const task = await client.tasks.enqueue('system.sleep', { ms: 10 }, { priority: 1 });",
        "  const batch = await client.tasks.enqueueBatch([{ type: 'system.noop', payload: {} }]);",
        '  for await (const t of client.tasks.list({ status: "failed" })) void t.id;',
        "  const flow = await client.flows.create({ type: 'system.gather', payload: {}, children: [{ type: 'system.sleep', payload: { ms: 1 }, onFailure: 'ignore' }] });",
        "  const schedule = await client.schedules.create({ everyMs: 60000, task: { type: 'system.noop', payload: {} } });",
        "  const job = await client.files.clean({ fileId: 'f' }, { rules: { trimWhitespace: true } });",
        '  const cleaned = await client.tasks.waitFor<typeof job.task.type>(job.task.id);',
        '  const slept = await client.tasks.waitFor<typeof task.type>(task.id);',
        '  const ms: number | undefined = slept.result?.sleptMs;',
        '  const output: string | undefined = cleaned.result?.outputFileId;',
        '  const rows: number | undefined = cleaned.result?.report.rowsOut;',
        '  return [task.payload.ms, batch.length, ConveyorNotFoundError.name, flow.nodes.length, schedule.everyMs, ms, output, rows];',
        '}',
        'export async function wrong() {',
        '  // @ts-expect-error ms must be a number',
        "  await client.tasks.enqueue('system.sleep', { ms: 'soon' });",
        '  // @ts-expect-error no such task type',
        "  await client.tasks.enqueue('system.nope', {});",
        '  // @ts-expect-error unknown payload field',
        "  await client.tasks.enqueue('file.checksum', { fileId: 'x', extra: 1 });",
        '  // @ts-expect-error a flow node of a known type with its payload',
        "  await client.flows.create({ type: 'system.sleep', payload: {}, children: [] });",
        '  // @ts-expect-error a schedule task of a known type with its payload',
        "  await client.schedules.create({ everyMs: 1000, task: { type: 'system.sleep', payload: { ms: '1' } } });",
        '  // @ts-expect-error rules are file.clean rules',
        "  await client.files.clean({ fileId: 'f' }, { rules: { trimWhitespace: 'yes' } });",
        "  const done = await client.tasks.get<'file.checksum'>('x');",
        '  // @ts-expect-error the result of file.checksum has no outputFileId',
        '  void done.result?.outputFileId;',
        "  const sleeping = await client.tasks.enqueue('system.sleep', { ms: 1 });",
        '  // @ts-expect-error a sleep result is a number of ms, not a string',
        '  const wrongMs: string | undefined = sleeping.result?.sleptMs;',
        '  void wrongMs;',
        '}',
      ].join('\n'),
    );
    const compilerOptions = {
      strict: true,
      noEmit: true,
      target: 'ES2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      types: [],
      lib: ['ES2022', 'DOM'],
      skipLibCheck: true,
    };
    await writeFile(join(consumer, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['typed.ts'] }));
    const output = await run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(consumer, 'tsconfig.json')]).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    expect(output).toBe('');
  }, 120_000);

  it('enqueues, follows events to the end, gets, lists page by page, cancels and retries', async () => {
    const conveyor = client();
    const task = await conveyor.tasks.enqueue('system.sleep', { ms: 400 }, { tags: ['sdk-events'] });
    expect(task).toMatchObject({ type: 'system.sleep', status: 'queued', payload: { ms: 400 }, tags: ['sdk-events'] });
    expect(task.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);

    const events: Array<{ id: string | undefined; event: string; status: string }> = [];
    for await (const event of conveyor.tasks.events(task.id))
      events.push({ id: event.id, event: event.event, status: event.event === 'error' ? event.data.code : event.data.status });
    expect(events[events.length - 1]).toMatchObject({ event: 'status', status: 'completed' });
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect((await conveyor.tasks.get(task.id)).status).toBe('completed');

    const tag = `sdk-list-${Date.now()}`;
    const batch = await conveyor.tasks.enqueueBatch(
      Array.from({ length: 5 }, (_, i) => ({ type: 'system.noop' as const, payload: {}, tags: [tag], delayMs: 60_000 + i })),
    );
    expect(batch).toHaveLength(5);
    const listed: string[] = [];
    for await (const listedTask of conveyor.tasks.list({ tag, limit: 2 })) listed.push(listedTask.id);
    expect(listed.sort()).toEqual(batch.map((t) => t.id).sort());

    const cancelled = await conveyor.tasks.cancel(batch[0].id);
    expect(cancelled).toMatchObject({ status: 'cancelled', cancellation: 'cancelled' });
    const retried = await conveyor.tasks.retry(batch[0].id);
    expect(['queued', 'scheduled']).toContain(retried.status);
    const done = await conveyor.tasks.waitFor(retried.id, { timeoutMs: 90_000, pollMs: 200 });
    expect(done.status).toBe('completed');
  }, 180_000);

  it('throws typed errors carrying the API code', async () => {
    const conveyor = client();
    const unknownType = await conveyor.tasks.enqueue('no.such' as 'system.noop', {}).catch((error: unknown) => error);
    expect(unknownType).toBeInstanceOf(lib.ConveyorValidationError);
    expect(unknownType).toMatchObject({ code: 'UNKNOWN_TASK_TYPE', status: 400 });
    const invalid = await conveyor.tasks.enqueue('system.sleep', { ms: -1 }).catch((error: unknown) => error);
    expect(invalid).toMatchObject({ code: 'VALIDATION_FAILED', details: [expect.objectContaining({ field: 'payload.ms' })] });
    await expect(conveyor.tasks.get('00000000-0000-7000-8000-000000000000')).rejects.toMatchObject({ name: 'ConveyorNotFoundError', code: 'TASK_NOT_FOUND' });
    const noKey = new lib.ConveyorClient({ url: stack.apiUrl, apiKey: 'cvk_wrong' });
    await expect(noKey.tasks.get('00000000-0000-7000-8000-000000000000')).rejects.toBeInstanceOf(lib.ConveyorAuthError);
    const slow = await conveyor.tasks.enqueue('system.noop', {}, { delayMs: 600_000 });
    await expect(conveyor.tasks.waitFor(slow.id, { timeoutMs: 300, pollMs: 100 })).rejects.toMatchObject({ code: 'WAIT_TIMEOUT' });
    await conveyor.tasks.cancel(slow.id);
    await expect(conveyor.tasks.cancel(slow.id)).rejects.toMatchObject({ name: 'ConveyorConflictError', code: 'TASK_TERMINAL' });
    const unreachable = new lib.ConveyorClient({ url: 'http://127.0.0.1:1', apiKey: 'k', retries: 1, retryDelayMs: 10 });
    await expect(unreachable.tasks.get(slow.id)).rejects.toMatchObject({ name: 'ConveyorNetworkError', code: 'NETWORK_ERROR' });
  }, 120_000);

  it('enqueues under an id of the caller’s choosing, finds the task by it, and moves it to another priority while it waits', async () => {
    const conveyor = client();
    const id = `order-${Date.now()}`;
    const task = await conveyor.tasks.enqueue('system.noop', {}, { id, delayMs: 60_000 });
    expect(task).toMatchObject({ clientId: id, status: 'scheduled', priority: 5 });
    expect((await conveyor.tasks.get(id)).id).toBe(task.id);
    // the same id and request: the same task; the same id for another request: refused
    expect((await conveyor.tasks.enqueue('system.noop', {}, { id, delayMs: 60_000 })).id).toBe(task.id);
    await expect(conveyor.tasks.enqueue('system.noop', {}, { id, delayMs: 1 })).rejects.toMatchObject({
      name: 'ConveyorConflictError',
      code: 'TASK_ID_REUSED',
    });
    expect(await conveyor.tasks.changePriority(id, 1)).toMatchObject({ id: task.id, priority: 1 });
    expect((await conveyor.tasks.cancel(id)).status).toBe('cancelled');
    await expect(conveyor.tasks.changePriority(id, 2)).rejects.toMatchObject({ code: 'TASK_NOT_WAITING' });
  });

  it('retries an enqueue whose answer was lost with the same idempotency key: one task', async () => {
    let calls = 0;
    const keys: string[] = [];
    // The request reaches the API, then the connection "drops" before the answer is read.
    const lossy: typeof fetch = async (input, init) => {
      calls++;
      keys.push(new Headers(init?.headers).get('idempotency-key') ?? '');
      const response = await fetch(input, init);
      if (calls === 1) throw new TypeError('fetch failed: socket hang up');
      return response;
    };
    const conveyor = new lib.ConveyorClient({ url: stack.apiUrl, apiKey: TEST_ADMIN_KEY, fetch: lossy, retryDelayMs: 10 });
    const tag = `sdk-lost-${Date.now()}`;
    const task = await conveyor.tasks.enqueue('system.noop', {}, { tags: [tag] });
    expect(calls).toBe(2);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    const all: string[] = [];
    for await (const listed of client().tasks.list({ tag })) all.push(listed.id);
    expect(all).toEqual([task.id]);
  });

  it('reconnects a dropped event stream with Last-Event-ID and misses nothing', async () => {
    // A proxy in front of the API that cuts the first event stream after its first event.
    const seen: Array<string | undefined> = [];
    let streams = 0;
    const proxy: Server = createServer((req, res) => {
      const isStream = req.url!.endsWith('/events');
      if (isStream) seen.push(req.headers['last-event-id'] as string | undefined);
      const cut = isStream && streams++ === 0;
      const upstream = httpRequest(`${stack.apiUrl}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.on('data', (chunk: Buffer) => {
          res.write(chunk);
          if (cut && chunk.toString().includes('data:')) {
            // Ends the client's response after this event (written in full), as a proxy timing out would.
            answer.destroy();
            res.end();
          }
        });
        answer.on('end', () => res.end());
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const conveyor = new lib.ConveyorClient({ url, apiKey: TEST_ADMIN_KEY });
      const task = await conveyor.tasks.enqueue('system.sleep', { ms: 1500 });
      const ids: string[] = [];
      const statuses: string[] = [];
      for await (const event of conveyor.tasks.events(task.id, { reconnectDelayMs: 50 })) {
        ids.push(event.id!);
        statuses.push(event.event === 'error' ? event.data.code : event.data.status);
      }
      expect(statuses[statuses.length - 1]).toBe('completed');
      expect(seen.length).toBeGreaterThanOrEqual(2);
      expect(seen[0]).toBeUndefined();
      expect(seen[1]).toBe(ids[0]);
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  }, 120_000);

  it('gives NestJS producer apps an injectable client (forRoot and forRootAsync)', async () => {
    @Injectable()
    class ReportService {
      constructor(private readonly conveyor: InstanceType<NestLib['ConveyorClient']>) {}
      requestReport() {
        return this.conveyor.tasks.enqueue('system.noop', {}, { tags: ['nest-producer'] });
      }
    }
    Reflect.defineMetadata('design:paramtypes', [nest.ConveyorClient], ReportService);

    @Module({ providers: [ReportService] })
    class ReportsModule {}

    for (const clientModule of [
      nest.ConveyorClientModule.forRoot({ url: stack.apiUrl, apiKey: TEST_ADMIN_KEY }),
      nest.ConveyorClientModule.forRootAsync({ useFactory: async () => ({ url: stack.apiUrl, apiKey: TEST_ADMIN_KEY }) }),
    ]) {
      @Module({ imports: [clientModule, ReportsModule] })
      class ProducerAppModule {}
      const app = await NestFactory.createApplicationContext(ProducerAppModule, { logger: false });
      try {
        const task = await app.get(ReportService).requestReport();
        expect(task).toMatchObject({ type: 'system.noop', tags: ['nest-producer'] });
        expect(app.get(nest.ConveyorClient)).toBeInstanceOf(nest.ConveyorClient);
      } finally {
        await app.close();
      }
    }
  }, 60_000);

  it('creates a flow and reads its tree from the root and from any node', async () => {
    const conveyor = client();
    const created = await conveyor.flows.create({
      type: 'system.gather',
      payload: {},
      children: [
        { type: 'system.noop', payload: {} },
        { type: 'system.sleep', payload: { ms: 10 }, onFailure: 'ignore' },
      ],
    });
    expect(created.nodes.map((node) => node.type)).toEqual(['system.gather', 'system.noop', 'system.sleep']);
    const done = await conveyor.tasks.waitFor(created.id, { timeoutMs: 90_000, pollMs: 200 });
    expect(done.status).toBe('completed');
    const tree = await conveyor.flows.get(created.id);
    expect(tree).toMatchObject({ id: created.id, status: 'completed', counts: { completed: 3 }, truncated: false });
    expect(tree.root.children.map((node) => node.id)).toEqual([created.nodes[1].id, created.nodes[2].id]);
    expect(await conveyor.flows.ofTask(created.nodes[2].id)).toEqual(tree);
    await expect(conveyor.flows.cancel(created.id)).rejects.toMatchObject({ name: 'ConveyorConflictError', code: 'TASK_TERMINAL' });
    await expect(conveyor.flows.get(created.nodes[1].id)).rejects.toMatchObject({ name: 'ConveyorNotFoundError', code: 'FLOW_NOT_FOUND' });
  }, 120_000);

  it('creates, lists, changes, pauses, triggers and deletes a schedule', async () => {
    const conveyor = client();
    const schedule = await conveyor.schedules.create({ everyMs: 3_600_000, task: { type: 'system.noop', payload: {}, tags: ['sdk-schedule'] } });
    expect(schedule).toMatchObject({ everyMs: 3_600_000, cron: null, paused: false, task: { type: 'system.noop' } });
    const listed: string[] = [];
    for await (const one of conveyor.schedules.list({ limit: 1 })) listed.push(one.id);
    expect(listed).toContain(schedule.id);
    expect(await conveyor.schedules.update(schedule.id, { everyMs: null, cron: '0 3 * * *' })).toMatchObject({ cron: '0 3 * * *', everyMs: null });
    expect((await conveyor.schedules.pause(schedule.id)).paused).toBe(true);
    expect((await conveyor.schedules.resume(schedule.id)).paused).toBe(false);
    const run = await conveyor.schedules.trigger(schedule.id);
    expect(run).toMatchObject({ type: 'system.noop', scheduleId: schedule.id });
    expect((await conveyor.tasks.waitFor(run.id, { timeoutMs: 60_000, pollMs: 200 })).status).toBe('completed');
    expect((await conveyor.schedules.get(schedule.id)).runs.map((r) => r.taskId)).toContain(run.id);
    await expect(conveyor.schedules.update(schedule.id, { everyMs: 5 })).rejects.toMatchObject({
      name: 'ConveyorValidationError',
      code: 'SCHEDULE_TOO_FREQUENT',
    });
    await conveyor.schedules.delete(schedule.id);
    await expect(conveyor.schedules.get(schedule.id)).rejects.toMatchObject({ name: 'ConveyorNotFoundError' });
  }, 120_000);

  it('uploads a file, downloads it back, cleans it (stored or uploaded in the same call) and reads the cleaned file', async () => {
    const conveyor = client();
    const csv = 'name,email\n  Ada ,ada@example.com\nAda,ada@example.com\nBob,bob@example.com\n';
    const file = await conveyor.files.upload({ content: csv, name: 'people.csv', contentType: 'text/csv' });
    expect(file).toMatchObject({ name: 'people.csv', size: Buffer.byteLength(csv), kind: 'upload', taskId: null });
    expect(await conveyor.files.get(file.id)).toEqual(file);
    const download = await conveyor.files.download(file.id);
    expect({ sha256: download.sha256, size: download.size, text: await download.text() }).toEqual({ sha256: file.sha256, size: file.size, text: csv });

    const rules = { trimWhitespace: true, dedupe: { keep: 'first' as const } };
    for (const source of [{ fileId: file.id }, { file: { content: new Blob([csv], { type: 'text/csv' }), name: 'again.csv' } }]) {
      const job = await conveyor.files.clean(source, { rules });
      expect(job.task).toMatchObject({ type: 'file.clean', payload: { fileId: job.file.id, rules } });
      const done = await conveyor.tasks.waitFor<'file.clean'>(job.task.id, { timeoutMs: 90_000, pollMs: 200 });
      expect(done.status).toBe('completed');
      expect(done.result!.report.duplicatesRemoved).toBe(1);
      const cleaned = await (await conveyor.files.download(done.result!.outputFileId)).text();
      expect(cleaned.trim().split(/\r?\n/)).toEqual(['name,email', 'Ada,ada@example.com', 'Bob,bob@example.com']);
    }
    await expect(conveyor.files.clean({ fileId: file.id }, { rules: { trimWhitespace: 'yes' as unknown as boolean } })).rejects.toMatchObject({
      name: 'ConveyorValidationError',
      code: 'INVALID_RULES',
    });
    await expect(conveyor.files.get('00000000-0000-7000-8000-000000000000')).rejects.toMatchObject({ name: 'ConveyorNotFoundError' });
  }, 180_000);

  it('reads queues, pauses and resumes one and changes its concurrency (admin key)', async () => {
    const conveyor = client();
    const queues = await conveyor.queues.list();
    expect(queues.map((q) => q.name)).toContain('system');
    expect((await conveyor.queues.get('system')).taskTypes).toContain('system.noop');
    try {
      expect((await conveyor.queues.pause('system')).paused).toBe(true);
      expect((await conveyor.queues.update('system', { concurrency: 3 })).settings.concurrency).toBe(3);
    } finally {
      expect((await conveyor.queues.resume('system')).paused).toBe(false);
      expect((await conveyor.queues.update('system', { concurrency: null })).settings.concurrency).toBeNull();
    }
    await expect(conveyor.queues.get('no-such-queue')).rejects.toMatchObject({ name: 'ConveyorNotFoundError', code: 'QUEUE_NOT_FOUND' });
    const reader = (await fetch(`${stack.apiUrl}/v1/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'sdk-reader', scopes: ['tasks:read'] }),
    }).then((response) => response.json())) as { key: string };
    const readOnly = new lib.ConveyorClient({ url: stack.apiUrl, apiKey: reader.key });
    await expect(readOnly.queues.pause('system')).rejects.toMatchObject({ name: 'ConveyorAuthError' });
  }, 60_000);
});
