import { CleaningError } from './cleaning-error';
import { DedupeIndex, hashCells, hashText, keyHash } from './dedupe-index';

function cellsHash(values: Array<string | null | undefined>, ignoreCase = false): string {
  hashCells(
    values,
    values.map((_, i) => i),
    values.length,
    ignoreCase,
  );
  return `${keyHash[0]}:${keyHash[1]}`;
}

function textHash(text: string, ignoreCase = false): string {
  hashText(text, ignoreCase);
  return `${keyHash[0]}:${keyHash[1]}`;
}

describe('dedupe index', () => {
  it('hashes cells so that different splits of the same text differ', () => {
    expect(cellsHash(['ab', 'c'])).not.toBe(cellsHash(['a', 'bc']));
    expect(cellsHash(['abc', ''])).not.toBe(cellsHash(['', 'abc']));
    expect(cellsHash(['a', 'b'])).not.toBe(cellsHash(['b', 'a']));
    expect(cellsHash(['x', 'y'])).toBe(cellsHash(['x', 'y']));
  });

  it('treats null, undefined and empty cells alike, and can ignore case', () => {
    expect(cellsHash(['a', null])).toBe(cellsHash(['a', '']));
    expect(cellsHash(['a', undefined])).toBe(cellsHash(['a', '']));
    expect(cellsHash(['Alice'], true)).toBe(cellsHash(['alice'], true));
    expect(cellsHash(['Alice'])).not.toBe(cellsHash(['alice']));
    expect(textHash('A,b\n', true)).toBe(textHash('a,B\n', true));
    expect(textHash('ab')).not.toBe(textHash('ba'));
  });

  it('has no collisions over 200 000 distinct, similar keys', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200_000; i++) seen.add(textHash(`row-${i},x`));
    expect(seen.size).toBe(200_000);
  });

  it('adds each hash once and grows without losing any', () => {
    const index = new DedupeIndex(false, 2 ** 30);
    let added = 0;
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 50_000; i++) {
        textHash(`key ${i}`);
        if (index.add()) added++;
      }
    }
    expect(added).toBe(50_000);
    expect(index.size).toBe(50_000);
    expect(index.bytes).toBeGreaterThanOrEqual((50_000 / 0.7) * 8);
  });

  it('remembers the last row of each key (keep:"last")', () => {
    const index = new DedupeIndex(true, 2 ** 30);
    const keys = ['a', 'b', 'a', 'c', 'b', 'a'];
    keys.forEach((key, row) => {
      textHash(key);
      index.set(row);
    });
    const last = ['a', 'b', 'c', 'zzz'].map((key) => {
      textHash(key);
      return index.get();
    });
    expect(last).toEqual([5, 4, 3, -1]);
  });

  it('fails with DEDUPE_INDEX_LIMIT instead of outgrowing its budget', () => {
    const index = new DedupeIndex(false, 256 * 1024);
    const fill = () => {
      for (let i = 0; i < 100_000; i++) {
        textHash(`k${i}`);
        index.add();
      }
    };
    expect(fill).toThrow(CleaningError);
    expect(fill).toThrow(/over its 0.3 MiB budget/);
  });
});
