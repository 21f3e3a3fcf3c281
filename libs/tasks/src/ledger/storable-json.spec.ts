import { storableJson } from './storable-json';

describe('storableJson', () => {
  it('replaces unpaired surrogates and NUL, in values and keys, with U+FFFD', () => {
    const text = storableJson({ from: '\udfffv\udfffJ', [`k\ud800`]: ['a\u0000b', 'end\ud83d'] });
    expect(JSON.parse(text)).toEqual({ from: '\ufffdv\ufffdJ', 'k\ufffd': ['a\ufffdb', 'end\ufffd'] });
  });

  it('leaves everything else exactly as JSON.stringify writes it', () => {
    const value = { emoji: '😀 \ud83d\ude00', escaped: '\\ud800 \\u0000 \\\\ud800', control: '\u0001\t\n', n: 1, ok: [true, null] };
    expect(storableJson(value)).toBe(JSON.stringify(value));
    expect(JSON.parse(storableJson('\\\ud800'))).toBe('\\\ufffd');
  });

  it('throws, naming the reason, for a value with no JSON form', () => {
    expect(() => storableJson(() => 1)).toThrow('the value is of type function, which has no JSON form');
    expect(() => storableJson(undefined)).toThrow('the value is of type undefined, which has no JSON form');
    expect(() => storableJson({ n: 10n })).toThrow(/BigInt/);
  });
});
