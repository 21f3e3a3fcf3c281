import { JsonlReader } from './jsonl-reader';

function read(pieces: string[], max?: number): Array<[string, number, boolean]> {
  const lines: Array<[string, number, boolean]> = [];
  const reader = new JsonlReader((text, line, tooLong) => lines.push([text, line, tooLong]), max);
  for (const piece of pieces) reader.push(piece);
  reader.end();
  return lines;
}

describe('JsonlReader', () => {
  it('splits LF and CRLF lines across chunks and numbers them', () => {
    expect(read(['{"a":1}\r\n{"a"', ':2}\n\n{"a":3}'])).toEqual([
      ['{"a":1}', 1, false],
      ['{"a":2}', 2, false],
      ['', 3, false],
      ['{"a":3}', 4, false],
    ]);
  });

  it('reports an overlong line once and skips to its end', () => {
    const lines = read(['{"a":"', 'x'.repeat(100), 'x'.repeat(100), '"}\n{"b":1}\n'], 50);
    expect(lines.map(([text, line, tooLong]) => [text.length <= 1024, line, tooLong])).toEqual([
      [true, 1, true],
      [true, 2, false],
    ]);
    expect(lines[1][0]).toBe('{"b":1}');
  });
});
