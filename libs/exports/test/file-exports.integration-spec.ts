import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { DataSource } from 'typeorm';
import { uuidv7 } from 'uuidv7';
import { buildDataSourceOptions } from '@conveyor/database';
import { type ExportCreatePayload, type ExportResult } from '@conveyor/exports';
import { ExportCreateHandler } from '@conveyor/exports/worker';
import { FileEntity, FilesService, LocalFileStorage } from '@conveyor/files';
import { TaskEntity, TaskFailure } from '@conveyor/tasks';
import { createTestDatabase, DIALECTS, type TestDatabase } from '@conveyor/testing';
import { parseCsv, storeCleanedFile, taskContext } from './export-fixtures';

/**
 * Rows of the memory check. The export reads one storage chunk at a time (64 KiB locally, a
 * few hundred rows), so what it holds does not depend on the file: RSS may grow by at most
 * 64 MiB over the whole export and by at most 16 MiB in its second half (measured here: 21 and
 * 4 MiB on PostgreSQL, 17 and 2 on MariaDB). Memory held per row would grow the second half by
 * as much as the first: the 200k rows are 26 MB of JSON Lines.
 */
const BIG_ROWS = 200_000;
const RSS_BOUND_BYTES = 64 * 1024 * 1024;
const RSS_SECOND_HALF_BOUND_BYTES = 16 * 1024 * 1024;

const DIRTY = [
  'Id;Name;Score;Active;Note',
  '1; Alice ;88.5;true;"says ""hi"", twice"',
  '2;=HYPERLINK("x");-5;false;',
  '3;Bob;not a number;maybe;"two',
  'lines"',
  '4;@admin;12345678901234567890;true;+1 plain',
  '',
].join('\r\n');
const RULES = {
  trimWhitespace: true,
  columns: { Score: { type: 'number' as const, onInvalid: 'keep' as const }, Active: { type: 'boolean' as const, onInvalid: 'keep' as const } },
};

describe.each(DIALECTS)('exports of cleaned files on %s', (dialect) => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let dir: string;
  let files: FilesService;
  let handler: ExportCreateHandler;
  let csvFile: string;

  const run = (payload: ExportCreatePayload, tenantId = 'acme', signal?: AbortSignal) => {
    const context = taskContext({ taskId: uuidv7(), tenantId, ...(signal ? { signal } : {}) });
    return { context, done: handler.handle(payload, context) };
  };
  const content = async (result: ExportResult) => {
    const chunks: Buffer[] = [];
    for await (const chunk of await files.open((await files.findOne('acme', result.fileId)) ?? (await files.findOne('big', result.fileId))!))
      chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    expect(bytes.length).toBe(result.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(result.sha256);
    return result.compression === 'gzip' ? gunzipSync(bytes).toString() : bytes.toString();
  };
  const failure = (payload: ExportCreatePayload, tenantId = 'acme') => run(payload, tenantId).done.catch((error: unknown) => error);

  beforeAll(async () => {
    database = await createTestDatabase(dialect);
    dataSource = new DataSource(buildDataSourceOptions(database.config, [TaskEntity, FileEntity]));
    await dataSource.initialize();
    await dataSource.runMigrations();
    dir = mkdtempSync(join(tmpdir(), 'conveyor-file-exports-'));
    files = new FilesService(new LocalFileStorage(dir), dataSource.getRepository(FileEntity));
    handler = new ExportCreateHandler(files, dataSource);
    csvFile = await storeCleanedFile(dataSource, files, 'acme', Buffer.from(`\ufeff${DIRTY}`), { name: 'crm', rules: RULES });
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('CSV to JSON Lines: one object per row in column order, typed columns as numbers and booleans, empty as null, the rest as text', async () => {
    const { done, context } = run({ source: 'file', fileId: csvFile, format: 'jsonl' });
    const result = await done;
    expect(result).toMatchObject({ rows: 4, format: 'jsonl', name: 'crm.clean.jsonl', contentType: 'application/x-ndjson' });
    const lines = (await content(result)).split('\n');
    expect(lines.pop()).toBe('');
    const rows = lines.map((line) => JSON.parse(line));
    expect(rows).toEqual([
      { Id: '1', Name: 'Alice', Score: 88.5, Active: true, Note: 'says "hi", twice' },
      { Id: '2', Name: '=HYPERLINK("x")', Score: -5, Active: false, Note: null },
      // Values onInvalid "keep" left as written stay text; so does an integer a JS number would round.
      { Id: '3', Name: 'Bob', Score: 'not a number', Active: 'maybe', Note: 'two\r\nlines' },
      { Id: '4', Name: '@admin', Score: '12345678901234567890', Active: true, Note: '+1 plain' },
    ]);
    expect(Object.keys(rows[0])).toEqual(['Id', 'Name', 'Score', 'Active', 'Note']);
    expect(context.progressCalls.at(-1)).toEqual([100, `4 rows, ${result.bytes} bytes`]);
    expect(context.progressCalls.some(([, message]) => message === '4 of 4 rows')).toBe(true);
  });

  it('CSV to a gzipped JSON array, and to CSV with another delimiter: RFC 4180 quoting and formula escaping, values unchanged', async () => {
    const json = await run({ source: 'file', fileId: csvFile, format: 'json', compression: 'gzip' }).done;
    expect(json).toMatchObject({ rows: 4, name: 'crm.clean.json.gz', contentType: 'application/gzip', compression: 'gzip' });
    expect(JSON.parse(await content(json)).map((row: { Score: unknown }) => row.Score)).toEqual([88.5, -5, 'not a number', '12345678901234567890']);

    const csv = await run({ source: 'file', fileId: csvFile, format: 'csv', delimiter: '\t' }).done;
    const text = await content(csv);
    expect(text.startsWith('Id\tName')).toBe(true);
    expect(parseCsv(text, '\t')).toEqual([
      ['Id', 'Name', 'Score', 'Active', 'Note'],
      ['1', 'Alice', '88.5', 'true', 'says "hi", twice'],
      ['2', '\'=HYPERLINK("x")', '-5', 'false', ''],
      ['3', 'Bob', 'not a number', 'maybe', 'two\r\nlines'],
      ['4', "'@admin", '12345678901234567890', 'true', "'+1 plain"],
    ]);
  });

  it('JSON Lines to CSV: keys as columns in order of first appearance, nested values as JSON text, missing keys empty', async () => {
    const jsonl = [
      JSON.stringify({ id: 1, name: 'a,b', tags: ['x', 'y'], meta: { deep: true }, ok: true }),
      JSON.stringify({ id: 2, name: '-cmd', ok: false, extra: 'late' }),
      JSON.stringify({ id: 3, name: null, toString: 'own key', tags: [] }),
      '',
    ].join('\n');
    const fileId = await storeCleanedFile(dataSource, files, 'acme', Buffer.from(jsonl), { name: 'events' });
    const result = await run({ source: 'file', fileId, format: 'csv' }).done;
    expect(result).toMatchObject({ rows: 3, name: 'events.clean.csv' });
    expect(parseCsv(await content(result))).toEqual([
      ['id', 'name', 'tags', 'meta', 'ok', 'extra', 'toString'],
      ['1', 'a,b', '["x","y"]', '{"deep":true}', 'true', '', ''],
      ['2', "'-cmd", '', '', 'false', 'late', ''],
      ['3', '', '[]', '', '', '', 'own key'],
    ]);
    const back = await run({ source: 'file', fileId, format: 'jsonl' }).done;
    expect(
      (await content(back))
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([
      { id: 1, name: 'a,b', tags: ['x', 'y'], meta: { deep: true }, ok: true, extra: null, toString: null },
      { id: 2, name: '-cmd', tags: null, meta: null, ok: false, extra: 'late', toString: null },
      { id: 3, name: null, tags: [], meta: null, ok: null, extra: null, toString: 'own key' },
    ]);
  });

  it('refuses for good, storing nothing: another tenant’s file, a file that is not a cleaned output, filters with source file, fileId with tasks', async () => {
    const before = await dataSource.getRepository(FileEntity).count();
    const upload = await files.storeBuffer('acme', Buffer.from('a,b\n1,2\n'), { kind: 'upload', name: 'raw.csv' });
    expect(before + 1).toBe(await dataSource.getRepository(FileEntity).count());
    const cases: Array<[ExportCreatePayload, string, string?]> = [
      [{ source: 'file', fileId: csvFile, format: 'csv' }, 'FILE_NOT_FOUND', 'other'],
      [{ source: 'file', fileId: uuidv7(), format: 'csv' }, 'FILE_NOT_FOUND'],
      [{ source: 'file', fileId: upload.id, format: 'jsonl' }, 'NOT_CLEANED_OUTPUT'],
      [{ source: 'file', fileId: csvFile, format: 'jsonl', filters: { status: 'failed' } }, 'NOT_FOR_SOURCE'],
      [{ source: 'tasks', fileId: csvFile, format: 'jsonl' }, 'NOT_FOR_SOURCE'],
    ];
    for (const [payload, code, tenant] of cases) {
      const error = await failure(payload, tenant);
      expect({ payload, error }).toEqual({ payload, error: expect.any(TaskFailure) });
      expect({ payload, code: (error as TaskFailure).code, retryable: (error as TaskFailure).retryable }).toEqual({ payload, code, retryable: false });
    }
    expect(await dataSource.getRepository(FileEntity).count()).toBe(before + 1);
  });

  it(`${BIG_ROWS} rows, CSV to JSON Lines, with flat memory (RSS growth under ${RSS_BOUND_BYTES / 1048576} MiB, under ${RSS_SECOND_HALF_BOUND_BYTES / 1048576} MiB in the second half); a cancel mid-stream leaves nothing`, async () => {
    async function* rows(): AsyncGenerator<string> {
      yield 'id,email,amount,comment\n';
      for (let i = 1; i <= BIG_ROWS; i += 1000) {
        let chunk = '';
        for (let n = i; n < i + 1000; n += 1) chunk += `${n},user${n}@example.com,${(n % 977) / 4},"a, ""quoted"" comment about row ${n}"\n`;
        yield chunk;
      }
    }
    const fileId = await storeCleanedFile(dataSource, files, 'big', Readable.from(rows()), {
      name: 'big',
      rules: { columns: { amount: { type: 'number' } } },
    });
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    let peakAtHalf: number | undefined;
    const { done, context } = run({ source: 'file', fileId, format: 'jsonl' }, 'big');
    const progress = context.progress;
    context.progress = (percent, message) => {
      progress(percent, message);
      if (percent >= 50 && peakAtHalf === undefined) peakAtHalf = peak;
    };
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    const result = await done.finally(() => clearInterval(sampler));
    expect(result.rows).toBe(BIG_ROWS);
    const text = await content(result);
    const last = text.slice(text.lastIndexOf('\n', text.length - 2) + 1, -1);
    expect(JSON.parse(last)).toEqual({
      id: String(BIG_ROWS),
      email: `user${BIG_ROWS}@example.com`,
      amount: (BIG_ROWS % 977) / 4,
      comment: `a, "quoted" comment about row ${BIG_ROWS}`,
    });
    const percents = context.progressCalls.map(([percent]) => percent);
    expect(percents.filter((percent) => percent > 0 && percent < 100).length).toBeGreaterThan(10);
    const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
    console.log(`${dialect}: file export of ${BIG_ROWS} rows: RSS growth ${mib(peak - before)} in all, ${mib(peak - peakAtHalf!)} in the second half`);
    expect(peak - before).toBeLessThan(RSS_BOUND_BYTES);
    expect(peak - peakAtHalf!).toBeLessThan(RSS_SECOND_HALF_BOUND_BYTES);

    // Cancelled at its first progress: the stream stops, and neither a row nor bytes stay.
    const controller = new AbortController();
    const cancelled = run({ source: 'file', fileId, format: 'csv', compression: 'gzip' }, 'big', controller.signal);
    const original = cancelled.context.progress;
    cancelled.context.progress = (percent, message) => {
      original(percent, message);
      if (percent > 0) controller.abort(new Error('cancelled by test'));
    };
    const filesBefore = await dataSource.getRepository(FileEntity).count();
    await expect(cancelled.done).rejects.toThrow('cancelled by test');
    expect(cancelled.context.progressCalls.length).toBeLessThan(5);
    expect(await dataSource.getRepository(FileEntity).count()).toBe(filesBefore);
    const stored = await dataSource.getRepository(FileEntity).findBy({ tenantId: 'big' });
    expect(readdirSync(join(dir, 'big')).sort()).toEqual(stored.map((file) => file.id).sort());
  }, 300_000);
});
