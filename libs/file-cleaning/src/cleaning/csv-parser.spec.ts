import fc from 'fast-check';
import { CsvParser, HAD_QUOTES, PLAIN, STRAY_QUOTE, TEXT_AFTER_QUOTE, TOO_LONG, UNTERMINATED_QUOTE } from './csv-parser';

interface Parsed {
  fields: string[];
  line: number;
  flags: number;
  bad: number;
}

/** Parses `text` pushed in the given pieces (default: whole). */
function parse(text: string | string[], options: { delimiter?: string; maxRecordChars?: number } = {}): Parsed[] {
  const records: Parsed[] = [];
  const parser = new CsvParser({ delimiter: options.delimiter ?? ',', maxRecordChars: options.maxRecordChars }, (fields, count, line, flags, bad) =>
    records.push({ fields: fields.slice(0, count), line, flags, bad }),
  );
  for (const piece of typeof text === 'string' ? [text] : text) parser.push(piece);
  parser.end();
  return records;
}

const rows = (records: Parsed[]) => records.map((record) => record.fields);
/** PLAIN is a hint that depends on where chunks end (the fast path needs the whole line). */
const withoutHint = (records: Parsed[]) => records.map((record) => ({ ...record, flags: record.flags & ~PLAIN }));
const problems = (flags: number) => flags & ~(HAD_QUOTES | PLAIN);

/** Every way of cutting `text` in two, plus one-character pieces. */
function splits(text: string): string[][] {
  const all: string[][] = [[...text]];
  for (let i = 1; i < text.length; i++) all.push([text.slice(0, i), text.slice(i)]);
  return all;
}

describe('CsvParser', () => {
  it('splits plain records on LF, CRLF and lone CR, with or without a final line break', () => {
    expect(rows(parse('a,b\n1,2\n'))).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
    expect(rows(parse('a,b\r\n1,2\r\n'))).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
    expect(rows(parse('a,b\r1,2'))).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
    expect(rows(parse('a,b\n1,2'))).toEqual([
      ['a', 'b'],
      ['1', '2'],
    ]);
  });

  it('keeps empty fields, including a trailing one at the very end', () => {
    expect(rows(parse(',a,,\n,,'))).toEqual([
      ['', 'a', '', ''],
      ['', '', ''],
    ]);
  });

  it('reads quoted fields: delimiters, escaped quotes and line breaks inside', () => {
    const records = parse('id,text\n1,"a, b"\n2,"say ""hi"""\n3,"two\nlines"\n4,""\n');
    expect(rows(records)).toEqual([
      ['id', 'text'],
      ['1', 'a, b'],
      ['2', 'say "hi"'],
      ['3', 'two\nlines'],
      ['4', ''],
    ]);
    expect(records.every((record) => problems(record.flags) === 0)).toBe(true);
  });

  it('numbers records by the physical line they start on', () => {
    const records = parse('h\n"x\ny\nz"\nnext\n\r\nlast\n');
    expect(records.map((record) => [record.fields[0], record.line])).toEqual([
      ['h', 1],
      ['x\ny\nz', 2],
      ['next', 5],
      ['', 6],
      ['last', 7],
    ]);
  });

  it('tells a blank line from a quoted empty field', () => {
    const [blank, quoted] = parse('\n""\n');
    expect(blank.flags & HAD_QUOTES).toBe(0);
    expect(quoted.flags & HAD_QUOTES).toBe(HAD_QUOTES);
  });

  it('marks records without quotes or line breaks as PLAIN', () => {
    const [plain, quoted] = parse('a,b\n"a",b\n');
    expect(plain.flags & PLAIN).toBe(PLAIN);
    expect(quoted.flags & PLAIN).toBe(0);
  });

  it('keeps a stray quote in an unquoted field and flags it', () => {
    const [record] = parse('5" screen,x\n');
    expect(record.fields).toEqual(['5" screen', 'x']);
    expect(record.flags & STRAY_QUOTE).toBe(STRAY_QUOTE);
    expect(record.bad).toBe(0);
  });

  it('keeps text after a closing quote raw and flags the field', () => {
    const [record, next] = parse('a,"b"c,d\nok\n');
    expect(record.fields).toEqual(['a', '"b"c', 'd']);
    expect(record.flags & TEXT_AFTER_QUOTE).toBe(TEXT_AFTER_QUOTE);
    expect(record.bad).toBe(1);
    expect(next.fields).toEqual(['ok']);
  });

  it('cuts a quote never closed at its line and parses the following lines again', () => {
    const records = parse('h1,h2\n1,"open\n2,fine\n3,also fine\n');
    expect(records.map((record) => [record.fields, record.line, problems(record.flags)])).toEqual([
      [['h1', 'h2'], 1, 0],
      [['1', '"open'], 2, UNTERMINATED_QUOTE],
      [['2', 'fine'], 3, 0],
      [['3', 'also fine'], 4, 0],
    ]);
  });

  it('pairs quotes across lines as RFC 4180 says, so only an odd last quote is unclosed', () => {
    const records = parse('"a\n"b"\n"c\nd\n');
    expect(records.map((record) => [record.fields, record.line, problems(record.flags)])).toEqual([
      [['"a\n"b"'], 1, TEXT_AFTER_QUOTE],
      [['"c'], 3, UNTERMINATED_QUOTE],
      [['d'], 4, 0],
    ]);
  });

  it('treats a quoted field outgrowing maxRecordChars as unclosed, mid-stream', () => {
    const body = `${'x'.repeat(50)}\n`.repeat(10);
    const records = parse(['h\n"', body, body, 'tail\n'], { maxRecordChars: 200 });
    expect(records[0].fields).toEqual(['h']);
    expect(problems(records[1].flags)).toBe(UNTERMINATED_QUOTE);
    expect(records[1].line).toBe(2);
    // The record ends with the opening quote's line (the quote and the first x-line) …
    expect(records[1].fields[0]).toBe(`"${'x'.repeat(50)}`);
    // … and parsing resumes on line 3: the other x-lines come back as ordinary records.
    expect(records[2]).toMatchObject({ fields: ['x'.repeat(50)], line: 3 });
    expect(records.at(-1)).toMatchObject({ fields: ['tail'], line: 22 });
  });

  it('delivers a record longer than maxRecordChars without its fields, however it arrives', () => {
    const text = `h\n${'y'.repeat(300)},${'z'.repeat(300)}\n"${'q'.repeat(300)}",x\nnext\n`;
    const expected = [
      { fields: ['h'], line: 1, flags: PLAIN, bad: -1 },
      { fields: [], line: 2, flags: TOO_LONG, bad: 0 },
      { fields: [], line: 3, flags: TOO_LONG | HAD_QUOTES, bad: 0 },
      { fields: ['next'], line: 4, flags: PLAIN, bad: -1 },
    ];
    expect(withoutHint(parse(text, { maxRecordChars: 200 }))).toEqual(withoutHint(expected));
    expect(withoutHint(parse([...text], { maxRecordChars: 200 }))).toEqual(withoutHint(expected));
  });

  it('skips a monster line without holding it', () => {
    const records = parse(['h\n', 'y'.repeat(300), 'y'.repeat(300), 'y'.repeat(300), '\nnext\n'], { maxRecordChars: 100 });
    expect(records.map((record) => [record.fields, problems(record.flags), record.line])).toEqual([
      [['h'], 0, 1],
      [[], TOO_LONG, 2],
      [['next'], 0, 3],
    ]);
  });

  it('parses TSV and other delimiters', () => {
    expect(rows(parse('a\tb c\t"d\te"\n', { delimiter: '\t' }))).toEqual([['a', 'b c', 'd\te']]);
    expect(rows(parse('a;b,c\n', { delimiter: ';' }))).toEqual([['a', 'b,c']]);
  });

  it('refuses delimiters that cannot work', () => {
    expect(() => new CsvParser({ delimiter: '"' }, () => undefined)).toThrow();
    expect(() => new CsvParser({ delimiter: ';;' }, () => undefined)).toThrow();
  });

  it('gives nothing for empty input and one record for a lone line', () => {
    expect(parse('')).toEqual([]);
    expect(rows(parse('x'))).toEqual([['x']]);
  });

  it('gives the same records however the text is cut into chunks', () => {
    const text = 'a,"b\r\nc",d\r\n"e""f",,g\r\n5" x,"y"z\r\n"open\r\nh,i';
    const whole = parse(text);
    for (const pieces of splits(text)) expect(withoutHint(parse(pieces))).toEqual(withoutHint(whole));
  });

  it('is chunking-invariant on generated input (property)', () => {
    const cell = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('"', '""', '\n', '\r\n', ',', 'a"b'));
    const record = fc.array(cell, { minLength: 1, maxLength: 4 }).map((cells) => cells.join(','));
    fc.assert(
      fc.property(fc.array(record, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 5 }), (records, cuts) => {
        const text = records.join('\n');
        const points = [...new Set(cuts.map((cut) => cut % (text.length + 1)))].sort((a, b) => a - b);
        const pieces: string[] = [];
        let from = 0;
        for (const point of points) {
          pieces.push(text.slice(from, point));
          from = point;
        }
        pieces.push(text.slice(from));
        expect(withoutHint(parse(pieces))).toEqual(withoutHint(parse(text)));
      }),
      { numRuns: 300 },
    );
  });
});
