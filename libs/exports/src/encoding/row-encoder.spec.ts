import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { exportStream } from './export-stream';
import { createEncoder, type Cell, type ExportColumn } from './row-encoder';

const columns: ExportColumn[] = [
  { name: 'name', kind: 'text' },
  { name: 'n', kind: 'number' },
  { name: 'data', kind: 'json' },
];

const encodeAll = (format: 'csv' | 'jsonl' | 'json', rows: Cell[][], delimiter?: string) => {
  const encoder = createEncoder(format, columns, { delimiter });
  return encoder.head() + encoder.page(rows) + encoder.tail();
};

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('CSV encoder', () => {
  it('writes RFC 4180: header, CRLF, quotes around delimiters, quotes and line breaks, quotes doubled, null as empty', () => {
    const text = encodeAll('csv', [
      ['plain', 1, '{"a":1}'],
      ['a,b', 2, null],
      ['say "hi"', null, '[1,2]'],
      ['two\nlines', 3, 'null'],
      ['cr\rhere', 4, '"x"'],
    ]);
    expect(text).toBe(
      'name,n,data\r\n' + 'plain,1,"{""a"":1}"\r\n' + '"a,b",2,\r\n' + '"say ""hi""",,"[1,2]"\r\n' + '"two\nlines",3,null\r\n' + '"cr\rhere",4,"""x"""\r\n',
    );
  });

  it.each([
    ['=SUM(A1:A9)', "'=SUM(A1:A9)"],
    ['+cmd', "'+cmd"],
    ['-2+3+cmd|calc', "'-2+3+cmd|calc"],
    ['@import', "'@import"],
    ['\tleading tab', "'\tleading tab"],
    ['\rleading cr', '"\'\rleading cr"'],
    ['=1,2', '"\'=1,2"'],
  ])('escapes the formula-looking cell %j as %j', (cell, expected) => {
    expect(createEncoder('csv', [{ name: 'x', kind: 'text' }]).page([[cell]])).toBe(`${expected}\r\n`);
  });

  it.each(['-5', '+1.5', '-0.25e-3', 'a=b', 'x@y', ' =not first'])('leaves %j as it is (a plain number, or no formula start)', (cell) => {
    expect(createEncoder('csv', [{ name: 'x', kind: 'text' }]).page([[cell]])).toBe(`${cell}\r\n`);
  });

  it('takes another delimiter, quoting by it (and no longer by commas)', () => {
    expect(encodeAll('csv', [['a;b', 1, 'c,d']], ';')).toBe('name;n;data\r\n"a;b";1;c,d\r\n');
    expect(encodeAll('csv', [['a\tb', 1, 'c']], '\t')).toBe('name\tn\tdata\r\n"a\tb"\t1\tc\r\n');
    expect(encodeAll('csv', [['a|b', 1, 'c']], '|')).toBe('name|n|data\r\n"a|b"|1|c\r\n');
  });
});

describe('JSON encoders', () => {
  const rows: Cell[][] = [
    ['a "quoted"\nname', 1, '{"k": [1, 2]}'],
    ['=x', null, null],
  ];
  const expected = [
    { name: 'a "quoted"\nname', n: 1, data: { k: [1, 2] } },
    // JSON is data, not a spreadsheet: no formula escaping.
    { name: '=x', n: null, data: null },
  ];

  it('JSON Lines: one parseable object per line, json cells embedded as values', () => {
    const lines = encodeAll('jsonl', rows).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((line) => JSON.parse(line))).toEqual(expected);
  });

  it('JSON: one array, and an empty one for no rows', () => {
    expect(JSON.parse(encodeAll('json', rows))).toEqual(expected);
    expect(JSON.parse(encodeAll('json', []))).toEqual([]);
  });
});

describe('cells by kind', () => {
  const kinds: ExportColumn[] = [
    { name: 'id', kind: 'plain' },
    { name: 'text', kind: 'text' },
    { name: 'n', kind: 'number' },
  ];
  // Quotes, backslashes, control characters, a lone surrogate half, a pair, other Unicode: JSON.stringify's own output is the reference.
  const texts = ['plain', 'say "hi"', 'back\\slash', 'tab\there', 'nul\u0000', '\u001f', 'half \ud800', 'pair \ud83d\ude00', 'é ü 中', ''];

  it('JSON writes every text cell as JSON.stringify does, and plain and number cells as they are', () => {
    const rows = texts.map((text, i) => [`0000-${i}`, text, String(i)]);
    const lines = createEncoder('jsonl', kinds).page(rows).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toEqual(rows.map(([id, text, n]) => `{"id":${JSON.stringify(id)},"text":${JSON.stringify(text)},"n":${n}}`));
  });

  it('CSV writes plain and number cells as they are (no formula escaping), text cells escaped', () => {
    expect(
      createEncoder('csv', kinds).page([
        ['-1', '-1', '-1'],
        ['2026-12-08T00:00:00.000Z', '=x', '7'],
      ]),
    ).toBe("-1,-1,-1\r\n2026-12-08T00:00:00.000Z,'=x,7\r\n");
  });

  it('JSON: pages join into one array', () => {
    const encoder = createEncoder('json', kinds);
    const text =
      encoder.head() +
      encoder.page([['a', 'x', '1']]) +
      encoder.page([]) +
      encoder.page([
        ['b', 'y', '2'],
        ['c', 'z', '3'],
      ]) +
      encoder.tail();
    expect(JSON.parse(text)).toEqual([
      { id: 'a', text: 'x', n: 1 },
      { id: 'b', text: 'y', n: 2 },
      { id: 'c', text: 'z', n: 3 },
    ]);
  });
});

describe('value cells (a file source: JSON values as JavaScript)', () => {
  const values: ExportColumn[] = [
    { name: 'text', kind: 'value' },
    { name: 'n', kind: 'value' },
    { name: 'flag', kind: 'value' },
    { name: 'nested', kind: 'value' },
  ];
  const row: Cell[] = ['=1+1', -2.5, false, { a: [1, 'x,y'] }];

  it('CSV: text escaped and quoted, numbers and booleans as literals, objects as JSON text', () => {
    expect(createEncoder('csv', values).page([row])).toBe('\'=1+1,-2.5,false,"{""a"":[1,""x,y""]}"\r\n');
    expect(createEncoder('csv', values).page([[null, null, true, []]])).toBe(',,true,[]\r\n');
  });

  it('JSON Lines: each cell as the JSON value it is', () => {
    expect(JSON.parse(createEncoder('jsonl', values).page([row]))).toEqual({ text: '=1+1', n: -2.5, flag: false, nested: { a: [1, 'x,y'] } });
  });
});

describe('export stream', () => {
  async function* pages(count: number, size: number): AsyncGenerator<Cell[][]> {
    for (let p = 0; p < count; p += 1) yield Array.from({ length: size }, (_, i) => [`row ${p * size + i}`, i, '{}']);
  }

  it('writes head, pages and tail, reports rows after each page, and gzips when asked', async () => {
    const seen: number[] = [];
    const plain = await collect(exportStream({ encoder: createEncoder('json', columns), pages: pages(3, 10), onRows: (rows) => seen.push(rows) }));
    expect(JSON.parse(plain.toString())).toHaveLength(30);
    expect(seen).toEqual([10, 20, 30]);
    const zipped = await collect(exportStream({ encoder: createEncoder('json', columns), pages: pages(3, 10), compression: 'gzip' }));
    expect(gunzipSync(zipped).equals(plain)).toBe(true);
  });

  it('stops with the abort reason and stops pulling pages', async () => {
    const controller = new AbortController();
    let pulled = 0;
    async function* endless(): AsyncGenerator<Cell[][]> {
      for (;;) {
        pulled += 1;
        yield [['x'.repeat(1000), 1, '{}']];
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const stream = exportStream({ encoder: createEncoder('csv', columns), pages: endless(), signal: controller.signal });
    stream.resume();
    setTimeout(() => controller.abort(new Error('cancelled')), 20);
    await expect(collect(stream)).rejects.toThrow('cancelled');
    const after = pulled;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(pulled).toBe(after);
  });
});
