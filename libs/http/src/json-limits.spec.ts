import { DomainError } from '@conveyor/errors';
import { DEFAULT_JSON_LIMITS, findUnsafeInput, JSON_LIMIT_EXCEEDED, unsafeInputError, type JsonLimits } from './json-limits';

const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i += 1) value = { a: value };
  return value;
};
const MAX_DEPTH = DEFAULT_JSON_LIMITS.maxDepth;
const small: JsonLimits = { maxDepth: 8, maxKeys: 3, maxArrayLength: 4, maxNodes: 20 };

describe('findUnsafeInput', () => {
  it('accepts ordinary input up to the depth limit', () => {
    expect(findUnsafeInput({ type: 'x', payload: { list: [1, 'two', null, { three: true }] }, tags: ['a'] })).toBeUndefined();
    expect(findUnsafeInput(nested(MAX_DEPTH))).toBeUndefined();
    expect(findUnsafeInput('plain')).toBeUndefined();
  });

  it('finds nesting beyond the limit without recursing, named by its top-level field', () => {
    expect(findUnsafeInput({ ok: 1, payload: nested(MAX_DEPTH) })).toEqual({
      field: 'payload',
      message: `is nested more than ${MAX_DEPTH} levels deep`,
      tooLarge: false,
    });
    let deep: unknown = [];
    for (let i = 0; i < 200_000; i += 1) deep = [deep];
    expect(findUnsafeInput({ tasks: deep })?.field).toBe('tasks');
  });

  it('finds NUL characters in values and keys, with their path', () => {
    expect(findUnsafeInput({ payload: { list: ['ok', 'a\u0000b'] } })).toEqual({
      field: 'payload.list[1]',
      message: 'must not contain the NUL character (U+0000)',
      tooLarge: false,
    });
    expect(findUnsafeInput({ payload: { 'k\u0000': 1 } })?.field).toBe('payload.k\u0000');
    expect(findUnsafeInput([{ a: ['\u0000'] }])?.field).toBe('[0].a[0]');
    expect(findUnsafeInput('\u0000')?.field).toBe('');
  });

  it('accepts input exactly at the size limits', () => {
    expect(findUnsafeInput({ a: [1, 2, 3, 4], b: 1, c: { x: 1, y: 2, z: 3 } }, small)).toBeUndefined();
  });

  it('finds an object with too many keys, an array with too many items, too many values in all', () => {
    expect(findUnsafeInput({ p: { a: 1, b: 2, c: 3, d: 4 } }, small)).toEqual({ field: 'p', message: 'holds more than 3 keys', tooLarge: true });
    expect(findUnsafeInput({ list: [[1, 2, 3, 4, 5]] }, small)).toEqual({ field: 'list[0]', message: 'holds more than 4 items', tooLarge: true });
    const wide = { a: [1, 2, 3, 4], b: [1, 2, 3, 4], c: [1, 2, 3, 4], d: [1, 2, 3, 4] }; // 21 values
    expect(findUnsafeInput(wide, { ...small, maxKeys: 10 })).toEqual({ field: '', message: 'holds more than 20 values in all', tooLarge: true });
  });

  it('stops at the limit of a huge object instead of walking it', () => {
    const huge: Record<string, number> = {};
    for (let i = 0; i < 300_000; i += 1) huge[`k${i}`] = i;
    const started = process.hrtime.bigint();
    expect(findUnsafeInput({ payload: huge })).toMatchObject({ field: 'payload', tooLarge: true });
    // Correctness, not speed: it must not have looked at every key (generous bound).
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1000);
  });
});

describe('unsafeInputError', () => {
  it('answers a size limit with 413 JSON_LIMIT_EXCEEDED and a content problem with 400 VALIDATION_FAILED', () => {
    const tooLarge = unsafeInputError({ field: 'payload', message: 'holds more than 3 keys', tooLarge: true }, 'body');
    expect(tooLarge).toBeInstanceOf(DomainError);
    expect(tooLarge.kind).toBe('too_large');
    expect(tooLarge.code).toBe(JSON_LIMIT_EXCEEDED);
    expect(tooLarge.details).toEqual([{ field: 'payload', message: 'holds more than 3 keys' }]);
    const invalid = unsafeInputError({ field: '', message: 'must not contain the NUL character (U+0000)', tooLarge: false }, 'query');
    expect(invalid.kind).toBe('invalid');
    expect(invalid.code).toBe('VALIDATION_FAILED');
    expect(invalid.details).toEqual([{ field: 'query', message: expect.stringContaining('NUL') }]);
  });
});
