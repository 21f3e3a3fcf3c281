import { sniffDelimiter, sniffFormat, sniffLineEnding } from './format-sniffer';

describe('format sniffing', () => {
  it.each([
    ['a,b,c\n1,2,3\n', 'csv', ','],
    ['a\tb\tc\n1\t2\t3\n', 'tsv', '\t'],
    ['a;b;c\n1,5;2,5;3\n', 'csv', ';'],
    ['a|b\n1|2\n', 'csv', '|'],
    ['"x,y";b\n"1,2";3\n', 'csv', ';'],
    ['single\nvalue\n', 'csv', ','],
    ['', 'csv', ','],
  ])('reads %j as %s with %j', (sample, format, delimiter) => {
    expect(sniffFormat(sample)).toEqual({ format, delimiter });
  });

  it('recognises JSON Lines by the first non-blank character', () => {
    expect(sniffFormat('\n  {"a":1}\n{"a":2}\n')).toEqual({ format: 'jsonl' });
  });

  it('prefers a delimiter that is consistent across lines', () => {
    // Commas vary per line (decimal commas), semicolons do not.
    expect(sniffDelimiter('name;price;note\nx;1,5;a,b,c\ny;2;d\nz;3,25;e\n')).toBe(';');
  });

  it('can be limited to some candidates', () => {
    expect(sniffDelimiter('a\tb;c\n', [',', ';'])).toBe(';');
  });

  it('detects the line ending of the first line', () => {
    expect(sniffLineEnding('a,b\r\n1,2\r\n')).toBe('\r\n');
    expect(sniffLineEnding('a,b\n1,2\r\n')).toBe('\n');
    expect(sniffLineEnding('a,b')).toBe('\n');
  });
});
