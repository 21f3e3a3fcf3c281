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
  });

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
        '  return [task.payload.ms, batch.length, ConveyorNotFoundError.name];',
        '}',
        'export async function wrong() {',
        '  // @ts-expect-error ms must be a number',
        "  await client.tasks.enqueue('system.sleep', { ms: 'soon' });",
        '  // @ts-expect-error no such task type',
        "  await client.tasks.enqueue('system.nope', {});",
        '  // @ts-expect-error unknown payload field',
        "  await client.tasks.enqueue('file.checksum', { fileId: 'x', extra: 1 });",
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
});
