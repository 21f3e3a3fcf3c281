import { Readable, Writable } from 'node:stream';
import { cleanStream, type CleaningProgress, type CleanStreamOptions } from './clean-stream';
import { CleaningError } from './cleaning-error';
import type { CleaningReport } from './cleaning-report';
import type { CleaningRules } from './cleaning-rules.dto';

class Collector extends Writable {
  readonly chunks: Buffer[] = [];
  constructor(
    private readonly delayMs = 0,
    highWaterMark?: number,
  ) {
    super({ highWaterMark });
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.chunks.push(chunk);
    if (this.delayMs > 0) setTimeout(callback, this.delayMs);
    else callback();
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
  get text(): string {
    return this.bytes.toString('utf8');
  }
}

interface Cleaned {
  out: string;
  rej: string;
  report: CleaningReport;
  outBytes: Buffer;
}

type Input = string | Buffer;

function chunked(input: Input, size: number): Buffer[] {
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

async function runOnce(input: Input, rules: CleaningRules | undefined, options: Partial<CleanStreamOptions>, chunkSize: number): Promise<Cleaned> {
  const output = new Collector();
  const rejects = new Collector();
  const report = await cleanStream({
    input: () => Readable.from(chunked(input, chunkSize)),
    output,
    rejects,
    rules,
    ...options,
  });
  // Every row is accounted for exactly once.
  expect(report.rowsIn).toBe(report.rowsOut + report.rowsRejected + report.duplicatesRemoved + report.emptyRowsDropped);
  expect(output.writableFinished).toBe(true);
  return { out: output.text, rej: rejects.text, report, outBytes: output.bytes };
}

function stable(report: CleaningReport): unknown {
  const { timings, ...rest } = report;
  void timings;
  return rest;
}

/** Cleans the input whole, and again in 3-byte chunks: both must give the same bytes and counts. */
async function clean(input: Input, rules?: CleaningRules, options: Partial<CleanStreamOptions> = {}): Promise<Cleaned> {
  const whole = await runOnce(input, rules, options, 1 << 20);
  const pieces = await runOnce(input, rules, options, 3);
  expect(pieces.out).toBe(whole.out);
  expect(pieces.rej).toBe(whole.rej);
  expect(stable(pieces.report)).toEqual(stable(whole.report));
  return whole;
}

const lines = (text: string) => text.split('\n').filter((line) => line.length > 0);
const csvField = (value: string) => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

describe('cleanStream', () => {
  describe('whitespace and empty cells', () => {
    it('trims cells (and header names) and counts them', async () => {
      const { out, report } = await clean(' name ,city\n  alice , Berlin\u00a0\nbob,\tHamburg\t\n', { trimWhitespace: true });
      expect(out).toBe('name,city\nalice,Berlin\nbob,Hamburg\n');
      expect(report.rules.cellsTrimmed).toBe(3); // header names are trimmed too, but not counted as cells
      expect(report.input.columns).toEqual([' name ', 'city']);
    });

    it('collapses inner whitespace runs, line breaks included', async () => {
      const { out, report } = await clean('a,b\nx  y,"one\ntwo"\nfine,p\tq\n', { collapseWhitespace: true });
      expect(out).toBe('a,b\nx y,one two\nfine,p q\n');
      expect(report.rules.cellsCollapsed).toBe(3);
    });

    it('leaves whitespace alone without the rules', async () => {
      const { out } = await clean('a\n  x  y \n');
      expect(out).toBe('a\n  x  y \n');
    });

    it('makes empty cells null: empty in CSV, null in JSON Lines', async () => {
      const csv = await clean('a,b\n1,\n, \n', { emptyAsNull: true, trimWhitespace: true });
      expect(csv.out).toBe('a,b\n1,\n,\n');
      expect(csv.report.rules.cellsNulled).toBe(3);
      const json = await clean('a,b\n1,\n', { emptyAsNull: true }, { outputFormat: { format: 'jsonl' } });
      expect(json.out).toBe('{"a":"1","b":null}\n');
      const keep = await clean('a,b\n1,\n', {}, { outputFormat: { format: 'jsonl' } });
      expect(keep.out).toBe('{"a":"1","b":""}\n');
    });

    it('treats nullValues spellings as empty', async () => {
      const { out, report } = await clean(
        'a,b\nN/A,x\nn/a,NULL\nnot n/a,-\n',
        { nullValues: ['N/A', 'null', '-'], emptyAsNull: true },
        { outputFormat: { format: 'jsonl' } },
      );
      expect(lines(out)).toEqual(['{"a":null,"b":"x"}', '{"a":null,"b":null}', '{"a":"not n/a","b":null}']);
      expect(report.rules.nullValuesMatched).toBe(4);
    });

    it('drops rows whose cells are all empty, after whitespace rules', async () => {
      const input = 'a,b\n1,2\n,\n  ,\t\n3,4\n';
      const dropped = await clean(input, { dropEmptyRows: true, trimWhitespace: true });
      expect(dropped.out).toBe('a,b\n1,2\n3,4\n');
      expect(dropped.report.emptyRowsDropped).toBe(2);
      const untrimmed = await clean(input, { dropEmptyRows: true });
      expect(untrimmed.report.emptyRowsDropped).toBe(1); // "  ,\t" is not empty without trimming
      const kept = await clean(input, {});
      expect(kept.out).toBe(input);
    });

    it('skips blank lines and counts them, whatever the rules', async () => {
      const { out, report } = await clean('a,b\n\n1,2\n\r\n\n3,4\n\n');
      expect(out).toBe('a,b\n1,2\n3,4\n');
      expect(report.parse.counts.blankLines).toBe(4);
      expect(report.rowsIn).toBe(2);
    });
  });

  describe('header mapping', () => {
    it('normalises, renames and drops columns, keeping the order of the rest', async () => {
      const { out, report } = await clean('Internal ID,First Name,E-Mail,Notes\n7,Ann,a@x.io,hi\n', {
        headers: { normalize: 'snake_case', rename: { 'E-Mail': 'email' }, drop: ['internal_id', 'Notes'] },
      });
      expect(out).toBe('first_name,email\nAnn,a@x.io\n');
      expect(report.output.columns).toEqual(['first_name', 'email']);
      expect(report.output.mapping).toEqual([
        { from: 'Internal ID', to: null },
        { from: 'First Name', to: 'first_name' },
        { from: 'E-Mail', to: 'email' },
        { from: 'Notes', to: null },
      ]);
    });

    it('camelCase and lower styles', async () => {
      expect((await clean('First Name,ZIP code\n1,2\n', { headers: { normalize: 'camelCase' } })).out).toBe('firstName,zipCode\n1,2\n');
      expect((await clean('First Name,ZIP code\n1,2\n', { headers: { normalize: 'lower' } })).out).toBe('first name,zip code\n1,2\n');
    });

    it('warns about duplicate names and unused rename/drop entries', async () => {
      const { out, report } = await clean('Name,name,\n1,2,3\n', { headers: { normalize: 'lower', rename: { Nmae: 'x' }, drop: ['gone'] } });
      expect(out).toBe('name,name_2,column_3\n1,2,3\n');
      expect(report.warnings).toEqual([
        'duplicate column name "name" (column 2) renamed to "name_2"',
        'headers.rename: no column "Nmae"',
        'headers.drop: no column "gone"',
      ]);
    });

    it('fails with UNKNOWN_COLUMN when a rule names a column the file lacks', async () => {
      const run = cleanStream({ input: Readable.from([Buffer.from('a,b\n1,2\n')]), output: new Collector(), rules: { columns: { c: { type: 'integer' } } } });
      await expect(run).rejects.toMatchObject({ code: 'UNKNOWN_COLUMN', message: expect.stringContaining('columns.c') });
      const dedupe = cleanStream({ input: Readable.from([Buffer.from('a,b\n1,2\n')]), output: new Collector(), rules: { dedupe: { columns: ['z'] } } });
      await expect(dedupe).rejects.toMatchObject({ code: 'UNKNOWN_COLUMN', message: expect.stringContaining('"a", "b"') });
    });
  });

  describe('column types', () => {
    const typed = (type: string, values: string[], extra: Record<string, unknown> = {}) =>
      clean(`v\n${values.map((value) => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value)).join('\n')}\n`, {
        columns: { v: { type, ...extra } as never },
      });

    it.each([
      ['integer', ['42', '+7', '007', '3.0'], ['42', '7', '7', '3']],
      ['number', ['3.140', '-.5', '1E3'], ['3.14', '-0.5', '1e3']],
      ['boolean', ['Yes', 'n', 'TRUE', '0'], ['true', 'false', 'true', 'false']],
      ['date', ['2024-01-05', '05.01.2024', '5 Jan 2024'], ['2024-01-05', '2024-01-05', '2024-01-05']],
      ['datetime', ['2024-01-05 10:00', '2024-01-05T10:00:00+01:00'], ['2024-01-05T10:00:00', '2024-01-05T09:00:00Z']],
      ['email', ['Ann@Example.COM'], ['Ann@example.com']],
      ['url', ['HTTPS://Example.com/a'], ['https://example.com/a']],
      ['string', ['anything at all'], ['anything at all']],
    ])('%s: normalises valid values', async (type, values, expected) => {
      const { out, report } = await typed(type, values);
      expect(lines(out).slice(1)).toEqual(expected);
      expect(report.rowsRejected).toBe(0);
    });

    it('phone: E.164 with a default country', async () => {
      const { out } = await typed('phone', ['030 1234567', '+1 415 555 2671'], { defaultCountry: 'DE' });
      expect(lines(out).slice(1)).toEqual(['+49301234567', '+14155552671']);
    });

    it('quotes normalised values that meet the delimiter (a phone extension in a ; file)', async () => {
      const { out } = await clean('name;phone\nAnn;030 1234567 ext. 12\n', { columns: { phone: { type: 'phone', defaultCountry: 'DE' } } });
      expect(out).toBe('name;phone\nAnn;"+49301234567;ext=12"\n');
    });

    it('quotes cells a case rule turns into a letter delimiter', async () => {
      const { out } = await clean('axb\nAXBxD\n', { columns: { a: { type: 'string', case: 'lower' } } }, { format: 'csv', delimiter: 'x' });
      expect(out).toBe('axb\n"axb"xD\n');
    });

    it.each([
      ['integer', '4.5'],
      ['number', '1,5'],
      ['boolean', 'maybe'],
      ['date', '2024-02-30'],
      ['datetime', '2024-01-05 25:00'],
      ['email', 'x@'],
      ['url', 'not a url'],
      ['phone', '12'],
    ])('%s: an invalid value is rejected, nulled or kept as asked', async (type, bad) => {
      const input = `v,id\n${csvField(bad)},1\n`;
      const reject = await clean(input, { columns: { v: { type: type as never } } });
      expect(reject.out).toBe('v,id\n');
      expect(reject.rej).toBe(`v,id,_line,_reason\n${csvField(bad)},1,2,${csvField(`v: invalid ${type} ${JSON.stringify(bad)}`)}\n`);
      expect(reject.report.columns.v).toMatchObject({ invalid: 1, rejected: 1 });
      expect(reject.report.rejects.invalidValue).toBe(1);

      const nulled = await clean(input, { columns: { v: { type: type as never, onInvalid: 'null' } } });
      expect(nulled.out).toBe('v,id\n,1\n');
      expect(nulled.report.columns.v).toMatchObject({ invalid: 1, nulled: 1, rejected: 0 });

      const kept = await clean(input, { columns: { v: { type: type as never, onInvalid: 'keep' } } });
      expect(kept.out).toBe(`v,id\n${csvField(bad)},1\n`);
      expect(kept.report.columns.v).toMatchObject({ invalid: 1, kept: 1, rejected: 0 });
    });

    it('writes reasons like `email: invalid email "x@"` and lists every problem of a row', async () => {
      const { rej, report } = await clean('email,age\nx@,abc\n', {
        columns: { email: { type: 'email' }, age: { type: 'integer' } },
      });
      expect(rej).toBe('email,age,_line,_reason\nx@,abc,2,"email: invalid email ""x@""; age: invalid integer ""abc"""\n');
      expect(report.rowsRejected).toBe(1);
    });

    it('explains ambiguous day/month dates', async () => {
      const { rej } = await clean('d\n03/04/2024\n', { columns: { d: { type: 'date' } } });
      expect(rej).toContain('day/month order is ambiguous');
    });

    it('required: a missing value rejects the row, so does an invalid one nulled', async () => {
      const { out, rej, report } = await clean('email,n\n,1\nx@,2\nok@example.com,3\n', {
        emptyAsNull: true,
        columns: { email: { type: 'email', required: true, onInvalid: 'null' } },
      });
      expect(out).toBe('email,n\nok@example.com,3\n');
      expect(lines(rej).slice(1)).toEqual([',1,2,email: required value missing', 'x@,2,3,"email: invalid email ""x@"""']);
      expect(report.columns.email).toMatchObject({ missing: 1, invalid: 1, rejected: 2 });
      expect(report.rejects).toMatchObject({ missingRequired: 1, invalidValue: 1 });
    });

    it('applies case after validation: lower, upper, title', async () => {
      const { out, report } = await clean("e,s,t\nAnn@X.io,mixed Case,mary-jane o'neil\n", {
        columns: { e: { type: 'email', case: 'lower' }, s: { type: 'string', case: 'upper' }, t: { type: 'string', case: 'title' } },
      });
      expect(out).toBe("e,s,t\nann@x.io,MIXED CASE,Mary-Jane O'Neil\n");
      expect(report.rules.cellsCased).toBe(3);
    });

    it('counts values rewritten into their normal form', async () => {
      const { report } = await clean('n\n7\n007\n', { columns: { n: { type: 'integer' } } });
      expect(report.columns.n.normalized).toBe(1);
      expect(report.rules.valuesNormalized).toBe(1);
    });
  });

  describe('dedupe', () => {
    const input = 'id,email\n1,a@x.io\n2,b@x.io\n1,a@x.io\n3,A@X.IO \n2,b@x.io\n';

    it('keeps the first of identical rows (all columns) in one pass', async () => {
      const { out, report } = await clean(input, { dedupe: {} });
      expect(out).toBe('id,email\n1,a@x.io\n2,b@x.io\n3,A@X.IO \n');
      expect(report.duplicatesRemoved).toBe(2);
      expect(report.dedupe).toMatchObject({ keep: 'first', columns: ['id', 'email'], distinctKeys: 3, passes: 1 });
    });

    it('compares keys after normalisation', async () => {
      const { out } = await clean(input, { trimWhitespace: true, columns: { email: { type: 'email', case: 'lower' } }, dedupe: { columns: ['email'] } });
      expect(out).toBe('id,email\n1,a@x.io\n2,b@x.io\n');
    });

    it('ignoreCase compares keys case-insensitively', async () => {
      const { out } = await clean('k\nAbc\nABC\nabc \n', { dedupe: { ignoreCase: true } });
      expect(out).toBe('k\nAbc\nabc \n');
    });

    it('dedupes on chosen columns only', async () => {
      const { out } = await clean('id,email\n1,a@x.io\n2,a@x.io\n3,b@x.io\n', { dedupe: { columns: ['email'] } });
      expect(out).toBe('id,email\n1,a@x.io\n3,b@x.io\n');
    });

    it('keep:"last" keeps the last row of each key, where that row stands (two reads)', async () => {
      const progress: CleaningProgress[] = [];
      const input = 'id,email\n1,a@x.io\n2,b@x.io\n3,a@x.io\n4,c@x.io\n5,b@x.io\n';
      const { out, report } = await clean(
        input,
        { dedupe: { columns: ['email'], keep: 'last' } },
        {
          onProgress: (step) => progress.push(step),
          totalBytes: input.length,
        },
      );
      expect(out).toBe('id,email\n3,a@x.io\n4,c@x.io\n5,b@x.io\n');
      expect(report.duplicatesRemoved).toBe(2);
      expect(report.dedupe).toMatchObject({ keep: 'last', passes: 2 });
      expect(report.timings.indexPassMs).toEqual(expect.any(Number));
      expect(new Set(progress.map((step) => step.pass))).toEqual(new Set([1, 2]));
      expect(progress.at(-1)).toMatchObject({ pass: 2, passes: 2, fraction: 1 });
    });

    it('keep:"last" with rejected and empty rows in between', async () => {
      const { out, report } = await clean('k,n\na,1\n,\nb,x\na,2\nb,3\n', {
        dropEmptyRows: true,
        columns: { n: { type: 'integer' } },
        dedupe: { columns: ['k'], keep: 'last' },
      });
      expect(out).toBe('k,n\na,2\nb,3\n');
      expect(report).toMatchObject({ rowsIn: 5, rowsOut: 2, rowsRejected: 1, emptyRowsDropped: 1, duplicatesRemoved: 1 });
    });

    it('keep:"last" needs a way to reopen the input', async () => {
      const run = cleanStream({ input: Readable.from([Buffer.from('a\n1\n')]), output: new Collector(), rules: { dedupe: { keep: 'last' } } });
      await expect(run).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    });

    it('keep:"last" notices an input that changed between its two reads', async () => {
      const versions = ['a\n1\n2\n', 'a\n1\n2\n3\n'];
      let reads = 0;
      const run = cleanStream({ input: () => Readable.from([Buffer.from(versions[reads++])]), output: new Collector(), rules: { dedupe: { keep: 'last' } } });
      await expect(run).rejects.toMatchObject({ code: 'INPUT_CHANGED' });
    });

    it('stops with DEDUPE_INDEX_LIMIT past its memory budget', async () => {
      const rows = Array.from({ length: 20_000 }, (_, i) => `${i}`).join('\n');
      const run = cleanStream({
        input: Readable.from([Buffer.from(`n\n${rows}\n`)]),
        output: new Collector(),
        rules: { dedupe: {} },
        limits: { maxDedupeIndexBytes: 200 * 1024 },
      });
      await expect(run).rejects.toMatchObject({ code: 'DEDUPE_INDEX_LIMIT' });
    });
  });

  describe('parse problems', () => {
    it('rejects ragged rows with the original fields, padded or with the extras in the reason', async () => {
      const { out, rej, report } = await clean('a,b,c\n1,2\n1,2,3\n1,2,3,4,5\n');
      expect(out).toBe('a,b,c\n1,2,3\n');
      expect(rej).toBe(
        'a,b,c,_line,_reason\n' +
          '1,2,,2,"ragged row: 2 fields, the header has 3"\n' +
          '1,2,3,4,"ragged row: 5 fields, the header has 3; extra fields: ""4"", ""5"""\n',
      );
      expect(report.parse.counts['ragged-row']).toBe(2);
      expect(report.rejects.ragged).toBe(2);
      expect(report.parse.problems.map((problem) => [problem.line, problem.kind])).toEqual([
        [2, 'ragged-row'],
        [4, 'ragged-row'],
      ]);
    });

    it('rejects rows with bad quoting and keeps going', async () => {
      const { out, rej, report } = await clean('a,b\n1,"x"y\n2,"never closed\n3,ok\n');
      expect(out).toBe('a,b\n3,ok\n');
      expect(lines(rej).slice(1)).toEqual([
        '1,"""x""y",2,bad quoting: text after the closing quote of field 2',
        '2,"""never closed",3,bad quoting: the quote opening field 2 is never closed',
      ]);
      expect(report.parse.counts['bad-quoting']).toBe(2);
    });

    it('keeps a stray quote inside an unquoted field and notes it', async () => {
      const { out, report } = await clean('size,n\n5" screen,1\n');
      expect(out).toBe('size,n\n"5"" screen",1\n');
      expect(report.parse.counts['stray-quote']).toBe(1);
      expect(report.rowsOut).toBe(1);
    });

    it('rejects rows with invalid UTF-8 in utf-8 mode, showing U+FFFD', async () => {
      const input = Buffer.concat([Buffer.from('name,n\nok,1\nbad'), Buffer.from([0xff, 0xfe]), Buffer.from(',2\nmüller,3\n')]);
      const { out, rej, report } = await clean(input, {}, { encoding: 'utf-8' });
      expect(out).toBe('name,n\nok,1\nmüller,3\n');
      expect(rej).toBe('name,n,_line,_reason\nbad\ufffd\ufffd,2,3,invalid UTF-8 (shown as U+FFFD)\n');
      expect(report.parse.counts).toMatchObject({ 'invalid-utf8': 1, invalidUtf8Bytes: 2 });
    });

    it('reports an empty file without failing', async () => {
      for (const input of ['', '\n\n']) {
        const { out, rej, report } = await clean(input, { columns: { x: { type: 'integer' } } });
        expect(out).toBe('');
        expect(rej).toBe('');
        expect(report.rowsIn).toBe(0);
        expect(report.parse.problems).toEqual([{ line: 0, kind: 'empty-file', message: input ? 'the file has only blank lines' : 'the file is empty' }]);
      }
    });

    it('writes the header of a header-only file', async () => {
      const { out, report } = await clean('A,B\n', { headers: { normalize: 'lower' } });
      expect(out).toBe('a,b\n');
      expect(report.rowsIn).toBe(0);
    });

    it('lists the first problems and counts them all', async () => {
      const input = `a,b\n${Array.from({ length: 30 }, () => '1\n').join('')}`;
      const { report } = await clean(input, {}, { limits: { maxProblems: 5 } });
      expect(report.parse.problems).toHaveLength(5);
      expect(report.parse.problemsTruncated).toBe(true);
      expect(report.parse.counts['ragged-row']).toBe(30);
    });

    it('rejects records longer than maxRecordChars', async () => {
      const { out, report } = await clean(`a\n${'x'.repeat(500)}\nshort\n`, {}, { limits: { maxRecordChars: 100 } });
      expect(out).toBe('a\nshort\n');
      expect(report.rejects.tooLong).toBe(1);
    });
  });

  describe('formats and encodings', () => {
    it('keeps a BOM (and the input was detected as UTF-8 with BOM)', async () => {
      const { outBytes, report } = await clean('\ufeffname\nZoë\n', { headers: { normalize: 'snake_case' } });
      expect(outBytes.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
      expect(outBytes.subarray(3).toString()).toBe('name\nZoë\n');
      expect(report.input).toMatchObject({ encoding: 'utf-8', bom: true, columns: ['name'] });
      expect(report.output.bom).toBe(true);
    });

    it('can add or drop the BOM on request', async () => {
      expect((await clean('a\n1\n', {}, { encoding: 'utf-8-bom' })).outBytes[0]).toBe(0xef);
      expect((await clean('\ufeffa\n1\n', {}, { outputFormat: { bom: false } })).out).toBe('a\n1\n');
    });

    it('reads latin1 (as Windows-1252) and writes UTF-8', async () => {
      const input = Buffer.from('name;city\nJürgen;Köln\nRené;€uro\n', 'latin1');
      input[input.indexOf('€'.charCodeAt(0) & 0xff)] = 0x80; // '€' in Windows-1252
      const { out, report } = await clean(input);
      expect(out).toBe('name;city\nJürgen;Köln\nRené;€uro\n');
      expect(report.input).toMatchObject({ encoding: 'latin1', delimiter: ';', detected: { encoding: true, delimiter: true, format: true } });
    });

    // Issue 11: UTF-16 was read as latin1 and the job ended `completed` with NUL-riddled output.
    it('reads UTF-16 by its BOM (over a declared encoding) and writes UTF-8', async () => {
      const text = 'Name\tCity\n Zoë \tKöln 😀\n';
      const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
      const be = Buffer.from(le);
      be.swap16();
      for (const [bytes, encoding] of [
        [le, 'utf-16le'],
        [be, 'utf-16be'],
      ] as const) {
        const { outBytes, report } = await clean(bytes, { trimWhitespace: true });
        expect(outBytes.toString()).toBe('\ufeffName\tCity\nZoë\tKöln 😀\n');
        expect(report.input).toMatchObject({ encoding, bom: true, format: 'tsv', columns: ['Name', 'City'], detected: { encoding: true } });
        expect(report.parse.counts.invalidUtf8Bytes).toBe(0);
        const declared = await clean(bytes, {}, { encoding: 'latin1' });
        expect(declared.report.input).toMatchObject({ encoding, detected: { encoding: false } });
      }
    });

    it('refuses UTF-32 with UNSUPPORTED_ENCODING', async () => {
      const utf32 = Buffer.from([0xff, 0xfe, 0x00, 0x00, 0x61, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00]);
      await expect(runOnce(utf32, undefined, {}, 1 << 20)).rejects.toMatchObject({ code: 'UNSUPPORTED_ENCODING' });
      await expect(runOnce(Buffer.concat([Buffer.from([0, 0, 0xfe, 0xff]), utf32.subarray(4)]), undefined, {}, 1 << 20)).rejects.toBeInstanceOf(CleaningError);
    });

    it('reads and writes TSV, quoting only what must be quoted', async () => {
      const { out, report } = await clean('a\tb\n x \t"y\tz"\n', { trimWhitespace: true });
      expect(out).toBe('a\tb\nx\t"y\tz"\n');
      expect(report.input.format).toBe('tsv');
      expect(report.output).toMatchObject({ format: 'tsv', delimiter: '\t' });
    });

    it('keeps CRLF line endings and a sniffed delimiter', async () => {
      const { out } = await clean('a;b\r\n1;2\r\n');
      expect(out).toBe('a;b\r\n1;2\r\n');
    });

    it('writes another format or delimiter when asked', async () => {
      expect((await clean('a,b\n1,"x;y"\n', {}, { outputFormat: { delimiter: ';' } })).out).toBe('a;b\n1;"x;y"\n');
      expect((await clean('a,b\n1,2\n', {}, { outputFormat: { format: 'tsv' } })).out).toBe('a\tb\n1\t2\n');
    });

    it('honours a given format and delimiter over sniffing', async () => {
      const { out, report } = await clean('a;b,c\n1;2,3\n', {}, { format: 'csv', delimiter: ',' });
      expect(out).toBe('a;b,c\n1;2,3\n');
      expect(report.input).toMatchObject({ delimiter: ',', detected: { format: false, delimiter: false } });
    });

    it('refuses an impossible delimiter', async () => {
      const run = cleanStream({ input: Readable.from([Buffer.from('a\n')]), output: new Collector(), delimiter: '"' });
      await expect(run).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    });
  });

  describe('JSON Lines', () => {
    const jsonl = [
      '{"Name":" Ann ","age":"42","tags":["x"],"ok":true}',
      '',
      '{"Name":"Bob","age":7,"extra":null}',
      'not json',
      '[1,2]',
      '{"Name":"","age":""}',
    ].join('\n');

    it('cleans objects key by key, typing values, rejecting broken lines with their text', async () => {
      const { out, rej, report } = await clean(jsonl, {
        trimWhitespace: true,
        emptyAsNull: true,
        dropEmptyRows: true,
        headers: { normalize: 'lower' },
        columns: { age: { type: 'integer' } },
      });
      expect(lines(out)).toEqual(['{"name":"Ann","age":42,"tags":["x"],"ok":true}', '{"name":"Bob","age":7,"extra":null}']);
      expect(lines(rej)).toEqual([
        `{"_line":4,"_reason":${JSON.stringify(`invalid JSON: ${jsonParseError('not json')}`)},"_raw":"not json"}`,
        '{"_line":5,"_reason":"not a JSON object (an array)","_raw":"[1,2]"}',
      ]);
      expect(report).toMatchObject({ rowsIn: 5, rowsOut: 2, rowsRejected: 2, emptyRowsDropped: 1 });
      expect(report.input).toMatchObject({ format: 'jsonl', columns: ['Name', 'age', 'tags', 'ok', 'extra'] });
      expect(report.parse.counts).toMatchObject({ 'invalid-json': 1, 'not-an-object': 1, blankLines: 1 });
    });

    it('adds _line and _reason to a rejected object, keeping its text', async () => {
      const { rej } = await clean('{"e": "x@" }\n{}\n', { columns: { e: { type: 'email', required: true } } });
      expect(lines(rej)).toEqual(['{"e": "x@","_line":1,"_reason":"e: invalid email \\"x@\\""}', '{"_line":2,"_reason":"e: required value missing"}']);
    });

    it('turns JSON values into strings for string columns and refuses nested values in typed ones', async () => {
      const { out, rej } = await clean('{"s":5,"n":{"a":1}}\n', { columns: { s: { type: 'string' }, n: { type: 'number', onInvalid: 'reject' } } });
      expect(out).toBe('');
      expect(rej).toContain('n: invalid number (a nested JSON value)');
      const ok = await clean('{"s":5,"b":"yes"}\n', { columns: { s: { type: 'string' }, b: { type: 'boolean' } } });
      expect(ok.out).toBe('{"s":"5","b":true}\n');
    });

    it('converts JSON Lines to CSV with the first row fixing the header', async () => {
      const { out, report } = await clean(
        '{"a":1,"b":"x,y"}\n{"b":"z","a":2,"c":3}\n',
        { columns: { d: { type: 'integer' } } },
        { outputFormat: { format: 'csv' } },
      );
      expect(out).toBe('a,b,d\n1,"x,y",\n2,z,\n');
      expect(report.output.columns).toEqual(['a', 'b', 'd']);
      expect(report.warnings).toEqual([
        'key "c" first appears after the first row, so the CSV output (whose header the first row fixes) leaves it out',
        'columns.d: no row has this key',
      ]);
    });

    it('converts CSV to JSON Lines with typed values', async () => {
      const { out } = await clean('n,b,s\n1.50,no,x\n', { columns: { n: { type: 'number' }, b: { type: 'boolean' } } }, { outputFormat: { format: 'jsonl' } });
      expect(out).toBe('{"n":1.5,"b":false,"s":"x"}\n');
    });

    it('dedupes JSON objects on all keys, a missing key counting as empty', async () => {
      const { out } = await clean('{"a":1}\n{"a":1,"b":null}\n{"a":1,"b":""}\n{"b":2}\n', { dedupe: {} });
      expect(out).toBe('{"a":1}\n{"b":2}\n');
    });
  });

  describe('streaming', () => {
    it('honours backpressure from a slow output and still writes everything', async () => {
      const rows = Array.from({ length: 5000 }, (_, i) => `${i},value ${i}`).join('\n');
      const output = new Collector(1, 1024);
      const report = await cleanStream({ input: Readable.from(chunked(`id,v\n${rows}\n`, 4096)), output });
      expect(output.text).toBe(`id,v\n${rows}\n`);
      expect(report.bytesOut).toBe(output.bytes.length);
      expect(report.timings.outputWaitMs).toBeGreaterThan(0);
    });

    it('reports progress after each chunk up to the whole input', async () => {
      const input = `a\n${'1\n'.repeat(1000)}`;
      const progress: CleaningProgress[] = [];
      await cleanStream({
        input: Readable.from(chunked(input, 500)),
        totalBytes: input.length,
        output: new Collector(),
        onProgress: (step) => progress.push(step),
      });
      expect(progress.length).toBeGreaterThan(3);
      expect(progress.map((step) => step.bytesRead)).toEqual([...progress.map((step) => step.bytesRead)].sort((a, b) => a - b));
      expect(progress.at(-1)).toMatchObject({ bytesRead: input.length, fraction: 1, pass: 1, passes: 1, rowsIn: 1000 });
    });

    it('stops soon after the signal fires, with its reason, and releases the input', async () => {
      let produced = 0;
      const endless = new Readable({
        read() {
          produced++;
          setTimeout(() => this.push(Buffer.from('x,y\n'.repeat(1000))), 5);
        },
      });
      const controller = new AbortController();
      const reason = new Error('cancelled by test');
      setTimeout(() => controller.abort(reason), 100);
      const started = Date.now();
      await expect(cleanStream({ input: endless, output: new Collector(), signal: controller.signal })).rejects.toBe(reason);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(produced).toBeGreaterThan(1);
      expect(endless.destroyed).toBe(true);
    });

    it('stops while waiting for a stalled output too', async () => {
      const stalled = new Writable({ highWaterMark: 16, write: () => undefined }); // never calls back
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('timeout')), 50);
      const run = cleanStream({ input: Readable.from([Buffer.from(`a\n${'1\n'.repeat(1000)}`)]), output: stalled, signal: controller.signal });
      await expect(run).rejects.toThrow('timeout');
    });

    it('refuses to start when already aborted', async () => {
      const run = cleanStream({ input: Readable.from([Buffer.from('a\n')]), output: new Collector(), signal: AbortSignal.abort(new Error('early')) });
      await expect(run).rejects.toThrow('early');
    });

    it('can leave the output streams open', async () => {
      const output = new Collector();
      await cleanStream({ input: Readable.from([Buffer.from('a\n1\n')]), output, endStreams: false });
      expect(output.writableEnded).toBe(false);
      expect(output.text).toBe('a\n1\n');
    });

    it('fails with INVALID_RULES listing every problem', async () => {
      const run = cleanStream({
        input: Readable.from([Buffer.from('a\n')]),
        output: new Collector(),
        rules: { trimWhitespace: 'yes', columns: { a: { type: 'int' } } } as never,
      });
      await expect(run).rejects.toBeInstanceOf(CleaningError);
      await expect(
        cleanStream({ input: Readable.from([Buffer.from('a\n')]), output: new Collector(), rules: { columns: { a: { type: 'int' } } } as never }),
      ).rejects.toMatchObject({ code: 'INVALID_RULES', details: [{ field: 'columns.a.type', message: expect.stringContaining('type must be one of') }] });
    });

    it('reports sizes and timings', async () => {
      const { report } = await clean('a,b\n1,2\n3,4\n', {});
      expect(report).toMatchObject({ bytesIn: 12, bytesOut: 12, bytesRejected: 'a,b,_line,_reason\n'.length });
      expect(report.timings.totalMs).toBeGreaterThanOrEqual(0);
    });
  });
});

function jsonParseError(text: string): string {
  try {
    JSON.parse(text);
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}
