import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { DataSource } from 'typeorm';
import { uuidv7 } from 'uuidv7';
import type { AppConfig } from '@conveyor/config';
import { buildDataSourceOptions } from '@conveyor/database';
import { type ExportCreatePayload, type ExportResult } from '@conveyor/exports';
import { ExportCreateHandler, ExportRetention } from '@conveyor/exports/worker';
import { FileEntity, FilesService, LocalFileStorage, type FileStorage } from '@conveyor/files';
import { S3FileStorage } from '@conveyor/files/s3';
import { TaskEntity, TaskFailure } from '@conveyor/tasks';
import { createTestDatabase, DIALECTS, freePort, taskRow, type TestDatabase } from '@conveyor/testing';
import { parseCsv, seedTasks, taskContext } from './export-fixtures';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => { run(): Promise<unknown>; close(): Promise<void> };
const BUCKET = 'conveyor-exports';

async function read(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function task(overrides: Partial<TaskEntity>): TaskEntity {
  return taskRow({ tenantId: 'acme', type: 'report.render', queue: 'reports', status: 'completed', attempts: 1, timeoutMs: 30000, ...overrides });
}

/**
 * Rows of the big export: 100,000 in the suite; EXPORT_TEST_ROWS=1000000 runs it at a million
 * (11 s on PostgreSQL and 24 s on MariaDB here, plus about 15 s of seeding each: too long for
 * the suite). `npm run bench:exports` measures 100k to 5M rows through the real worker.
 */
const BIG_ROWS = Number(process.env.EXPORT_TEST_ROWS ?? 100_000);
/**
 * Memory bounds of the export, measured in this process (the one running the handler): RSS may
 * grow by at most 512 MiB in all (V8 and malloc keep freed pages for reuse, so RSS climbs to a
 * plateau: 110 MiB at 100k rows and 470 MiB at 1M on PostgreSQL here, 10-160 MiB on MariaDB),
 * and by at most 64 MiB during the second half of the rows (3.5 MiB measured at 1M): flat, where
 * memory held per row would grow it by as much as the first half did.
 */
const RSS_BOUND_BYTES = 512 * 1024 * 1024;
const RSS_SECOND_HALF_BOUND_BYTES = 64 * 1024 * 1024;

describe.each(DIALECTS)('exports on %s', (dialect) => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let dir: string;
  let storage: LocalFileStorage;
  let files: FilesService;
  let handler: ExportCreateHandler;

  const run = (payload: ExportCreatePayload, tenantId = 'acme', extra: Partial<Parameters<typeof taskContext>[0]> = {}, using = handler) => {
    const context = taskContext({ taskId: uuidv7(), tenantId, ...extra });
    return { context, done: using.handle(payload, context) };
  };
  const content = async (result: ExportResult, from: FileStorage = storage) => {
    const bytes = await read(await from.get(result.storageKey));
    return result.compression === 'gzip' ? gunzipSync(bytes).toString() : bytes.toString();
  };

  const mixed = [
    task({
      type: 'report.render',
      status: 'completed',
      payload: { name: 'Smith, "Jo"', note: '=HYPERLINK("x")' },
      tags: ['vip'],
      createdAt: new Date('2031-01-01T00:00:00.000Z'),
    }),
    task({
      type: 'report.render',
      status: 'failed',
      payload: { lines: 'a\nb' },
      error: { code: 'BOOM', message: '+1 bad' },
      createdAt: new Date('2031-01-02T00:00:00.000Z'),
    }),
    task({ type: 'mail.send', status: 'completed', payload: { to: '@someone' }, tags: ['vip', 'eu'], createdAt: new Date('2031-01-03T00:00:00.000Z') }),
    task({
      type: 'report.render',
      status: 'completed',
      payload: { n: -5 },
      createdAt: new Date('2031-01-04T00:00:00.000Z'),
      finishedAt: new Date('2031-01-04T00:00:01.250Z'),
    }),
    task({ tenantId: 'other', type: 'report.render', payload: { secret: true }, createdAt: new Date('2031-01-02T00:00:00.000Z') }),
  ];

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    // Seeding a million rows is one long statement.
    dataSource = new DataSource(buildDataSourceOptions({ ...database.config, statementTimeoutMs: 600_000 }, [TaskEntity, FileEntity]));
    await dataSource.initialize();
    await dataSource.runMigrations();
    dir = mkdtempSync(join(tmpdir(), 'conveyor-exports-'));
    storage = new LocalFileStorage(dir);
    files = new FilesService(storage, dataSource.getRepository(FileEntity));
    handler = new ExportCreateHandler(files, dataSource);
    // Inserted in id order, which is creation order here.
    for (const row of mixed) await dataSource.getRepository(TaskEntity).save(row);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('CSV: header, the tenant’s rows only, oldest first, RFC 4180 quoting and formula escaping, chosen fields in order', async () => {
    const { done, context } = run({
      source: 'tasks',
      format: 'csv',
      filters: { fields: ['id', 'type', 'status', 'payload', 'error', 'tags', 'createdAt', 'finishedAt'] },
    });
    const result = await done;
    expect(result).toMatchObject({ rows: 4, format: 'csv', compression: null, contentType: 'text/csv; charset=utf-8' });
    const text = await content(result);
    expect(createHash('sha256').update(text).digest('hex')).toBe(result.sha256);
    expect(Buffer.byteLength(text)).toBe(result.bytes);
    expect(text.endsWith('\r\n')).toBe(true);
    const records = parseCsv(text);
    expect(records[0]).toEqual(['id', 'type', 'status', 'payload', 'error', 'tags', 'createdAt', 'finishedAt']);
    const mine = mixed.filter((row) => row.tenantId === 'acme');
    expect(records.slice(1).map((r) => r[0])).toEqual(mine.map((row) => row.id));
    expect(JSON.parse(records[1][3])).toEqual({ name: 'Smith, "Jo"', note: '=HYPERLINK("x")' });
    expect(JSON.parse(records[2][4])).toEqual({ code: 'BOOM', message: '+1 bad' });
    expect(JSON.parse(records[3][5])).toEqual(['vip', 'eu']);
    expect(records[1][6]).toBe('2031-01-01T00:00:00.000Z');
    expect(records[4][7]).toBe('2031-01-04T00:00:01.250Z');
    expect(records[1][7]).toBe('');
    expect(text).not.toContain('secret');
    expect(context.progressCalls.at(-1)?.[0]).toBe(100);
  });

  it('CSV escapes a text cell a spreadsheet would run, with another delimiter', async () => {
    await dataSource.getRepository(TaskEntity).save(task({ tenantId: 'sheets', type: '=cmd|calc', workerId: '@evil', idempotencyKey: '-1+1' }));
    const result = await run(
      { source: 'tasks', format: 'csv', delimiter: ';', filters: { fields: ['type', 'workerId', 'idempotencyKey', 'priority'] } },
      'sheets',
    ).done;
    expect(parseCsv(await content(result), ';')).toEqual([
      ['type', 'workerId', 'idempotencyKey', 'priority'],
      ["'=cmd|calc", "'@evil", "'-1+1", '5'],
    ]);
  });

  it('JSONL and JSON: every field by default, values typed, filters (type, status, tag, time range) applied', async () => {
    const all = await run({ source: 'tasks', format: 'jsonl' }).done;
    const lines = (await content(all))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(4);
    expect(Object.keys(lines[0])).toHaveLength(24);
    expect(lines[0]).toMatchObject({
      id: mixed[0].id,
      priority: 5,
      attempts: 1,
      payload: mixed[0].payload,
      tags: ['vip'],
      result: null,
      createdAt: '2031-01-01T00:00:00.000Z',
    });

    const filtered = async (filters: ExportCreatePayload['filters']) =>
      JSON.parse(await content(await run({ source: 'tasks', format: 'json', filters: { ...filters, fields: ['id'] } }).done)).map(
        (row: { id: string }) => row.id,
      );
    expect(await filtered({ type: 'report.render' })).toEqual([mixed[0].id, mixed[1].id, mixed[3].id]);
    expect(await filtered({ status: 'failed' })).toEqual([mixed[1].id]);
    expect(await filtered({ tag: 'vip' })).toEqual([mixed[0].id, mixed[2].id]);
    expect(await filtered({ createdFrom: '2031-01-02T00:00:00Z', createdTo: '2031-01-04T00:00:00+00:00' })).toEqual([mixed[1].id, mixed[2].id]);
    expect(await filtered({ type: 'nothing.here' })).toEqual([]);
  });

  it('refuses a time range the wrong way round for good, storing nothing', async () => {
    const before = await dataSource.getRepository(FileEntity).count();
    const failure = await run({
      source: 'tasks',
      format: 'csv',
      filters: { createdFrom: '2031-01-04T00:00:00Z', createdTo: '2031-01-01T00:00:00Z' },
    }).done.catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TaskFailure);
    expect(failure).toMatchObject({ code: 'INVALID_TIME_RANGE', retryable: false });
    expect(await dataSource.getRepository(FileEntity).count()).toBe(before);
  });

  it('a re-run of an attempt that stored its file replaces it: one file per export task', async () => {
    const taskId = uuidv7();
    const first = await handler.handle({ source: 'tasks', format: 'csv' }, taskContext({ taskId, tenantId: 'acme' }));
    const second = await handler.handle({ source: 'tasks', format: 'csv' }, taskContext({ taskId, tenantId: 'acme', attempt: 2 }));
    const stored = await files.findForTasks([taskId]);
    expect(stored.map((file) => file.id)).toEqual([second.fileId]);
    await expect(storage.get(first.storageKey)).rejects.toThrow();
  });

  it(`streams ${BIG_ROWS} rows as gzipped CSV with flat memory (RSS growth under ${RSS_BOUND_BYTES / 1048576} MiB, under ${RSS_SECOND_HALF_BOUND_BYTES / 1048576} MiB in the second half), progress against the count`, async () => {
    await seedTasks(dataSource, 'big', BIG_ROWS);
    const before = process.memoryUsage().rss;
    let peak = before;
    let peakAtHalf: number | undefined;
    const { done, context } = run({ source: 'tasks', format: 'csv', compression: 'gzip' }, 'big');
    const progress = context.progress;
    context.progress = (percent, message) => {
      progress(percent, message);
      if (percent >= 50 && peakAtHalf === undefined) peakAtHalf = peak;
    };
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    const started = Date.now();
    const result = await done.finally(() => clearInterval(sampler));
    const seconds = (Date.now() - started) / 1000;
    const text = await content(result);
    let lines = 0;
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines += 1;
    expect(result.rows).toBe(BIG_ROWS);
    expect(lines).toBe(BIG_ROWS + 1);
    expect(text.includes('=cmd|1""')).toBe(true);
    const percents = context.progressCalls.map(([percent]) => percent);
    expect(percents.some((percent) => percent > 0 && percent < 100)).toBe(true);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
    console.log(
      `${dialect}: ${BIG_ROWS} rows in ${seconds.toFixed(1)} s; RSS growth ${mib(peak - before)} in all, ${mib(peak - peakAtHalf!)} in the second half`,
    );
    expect(peak - before).toBeLessThan(RSS_BOUND_BYTES);
    expect(peak - peakAtHalf!).toBeLessThan(RSS_SECOND_HALF_BOUND_BYTES);
  }, 600_000);

  it('cancel mid-stream stops reading and leaves neither a file row nor bytes (not even a partial)', async () => {
    const controller = new AbortController();
    const context = taskContext({ taskId: uuidv7(), tenantId: 'big', signal: controller.signal });
    const original = context.progress;
    context.progress = (percent, message) => {
      original(percent, message);
      if (percent > 0 && !controller.signal.aborted) controller.abort(new Error('cancelled by test'));
    };
    const before = await dataSource.getRepository(FileEntity).count();
    await expect(handler.handle({ source: 'tasks', format: 'jsonl' }, context)).rejects.toThrow('cancelled by test');
    expect(context.progressCalls.length).toBeLessThan(5);
    expect(await files.findForTasks([context.taskId])).toEqual([]);
    expect(await dataSource.getRepository(FileEntity).count()).toBe(before);
    const leftovers = readdirSync(join(dir, 'big'));
    expect(leftovers.filter((name) => name.includes('.part-'))).toEqual([]);
    const stored = await dataSource.getRepository(FileEntity).findBy({ tenantId: 'big' });
    expect(leftovers.sort()).toEqual(stored.map((file) => file.id).sort());
  });

  it('retention deletes export files (bytes and row) past EXPORT_RETENTION_SECONDS, and only those', async () => {
    const config = { exports: { retentionSeconds: 3600 }, maintenance: { retentionIntervalMs: 0 } } as AppConfig;
    const retention = new ExportRetention(config, files, dataSource.getRepository(FileEntity));
    const result = await run({ source: 'tasks', format: 'csv' }).done;
    expect(await retention.purgeOnce(new Date())).toBe(0);
    const exportsBefore = await dataSource.getRepository(FileEntity).countBy({ kind: 'export' });
    const upload = await files.storeBuffer('acme', Buffer.from('not an export'), { kind: 'upload' });
    expect(await retention.purgeOnce(new Date(Date.now() + 3601_000))).toBe(exportsBefore);
    expect(await dataSource.getRepository(FileEntity).countBy({ kind: 'export' })).toBe(0);
    await expect(storage.get(result.storageKey)).rejects.toThrow();
    expect(await files.findOne('acme', upload.id)).not.toBeNull();
  });

  describe('to the S3-compatible server', () => {
    let s3dir: string;
    let server: { close(): Promise<void> };
    let s3: S3FileStorage;
    let s3handler: ExportCreateHandler;

    beforeAll(async () => {
      s3dir = mkdtempSync(join(tmpdir(), 'conveyor-exports-s3-'));
      const port = await freePort();
      const s3rver = new S3rver({ port, address: '127.0.0.1', silent: true, directory: s3dir, configureBuckets: [{ name: BUCKET }] });
      await s3rver.run();
      server = s3rver;
      s3 = new S3FileStorage({
        endpoint: `http://127.0.0.1:${port}`,
        region: 'us-east-1',
        bucket: BUCKET,
        accessKeyId: 'S3RVER',
        secretAccessKey: 'S3RVER',
        forcePathStyle: true,
      });
      s3handler = new ExportCreateHandler(new FilesService(s3, dataSource.getRepository(FileEntity)), dataSource);
    });

    afterAll(async () => {
      s3?.destroy();
      await server?.close();
      rmSync(s3dir, { recursive: true, force: true });
    });

    it('writes gzipped JSON Lines in multipart parts; sha256 and size are of the stored bytes; a presigned URL serves them until it expires', async () => {
      const result = await run({ source: 'tasks', format: 'jsonl', compression: 'gzip', filters: { fields: ['id', 'payload'] } }, 'big', {}, s3handler).done;
      const bytes = await read(await s3.get(result.storageKey));
      expect(bytes.length).toBe(result.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(result.sha256);
      const lines = gunzipSync(bytes).toString().trimEnd().split('\n');
      expect(lines).toHaveLength(BIG_ROWS);
      expect(JSON.parse(lines[0])).toEqual({ id: '00000000-0000-7000-8000-000000000001', payload: { n: 1, name: 'customer 1', note: '=cmd|1' } });

      const url = await s3.signedDownloadUrl(result.storageKey, { expiresInSeconds: 60, fileName: result.name, contentType: result.contentType });
      const fetched = await fetch(url);
      expect(fetched.status).toBe(200);
      expect(
        createHash('sha256')
          .update(Buffer.from(await fetched.arrayBuffer()))
          .digest('hex'),
      ).toBe(result.sha256);
      // The store enforces the expiry (s3rver checks it; it does not check SigV4 signatures, so
      // tampering is S3's own guarantee and not tested here).
      const shortLived = await s3.signedDownloadUrl(result.storageKey, { expiresInSeconds: 1, fileName: result.name, contentType: result.contentType });
      await new Promise((resolve) => setTimeout(resolve, 2100));
      expect((await fetch(shortLived)).status).toBe(403);
    }, 300_000);
  });
});
