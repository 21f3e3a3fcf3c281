import { HttpStatus } from '@nestjs/common';
import { IsString } from 'class-validator';
import { ApiError } from './api-error';
import { findUnsafeInput, MAX_INPUT_DEPTH } from './bounded-validation.pipe';
import { createValidationPipe } from './validation';

const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i += 1) value = { a: value };
  return value;
};

describe('findUnsafeInput', () => {
  it('accepts ordinary input up to the depth limit', () => {
    expect(findUnsafeInput({ type: 'x', payload: { list: [1, 'two', null, { three: true }] }, tags: ['a'] })).toBeUndefined();
    expect(findUnsafeInput(nested(MAX_INPUT_DEPTH))).toBeUndefined();
    expect(findUnsafeInput('plain')).toBeUndefined();
  });

  it('names the top-level field that nests too deep, without recursing itself', () => {
    expect(findUnsafeInput({ ok: 1, payload: nested(MAX_INPUT_DEPTH) })).toEqual({ field: 'payload', message: `is nested more than ${MAX_INPUT_DEPTH} levels deep` });
    let deep: unknown = [];
    for (let i = 0; i < 200_000; i += 1) deep = [deep];
    expect(findUnsafeInput({ tasks: deep })?.field).toBe('tasks');
  });

  it('finds NUL characters in values and keys, with their path', () => {
    expect(findUnsafeInput({ payload: { list: ['ok', 'a\u0000b'] } })).toEqual({ field: 'payload.list[1]', message: 'must not contain the NUL character (U+0000)' });
    expect(findUnsafeInput({ payload: { 'k\u0000': 1 } })?.field).toBe('payload.k\u0000');
    expect(findUnsafeInput('\u0000')?.field).toBe('');
  });
});

describe('createValidationPipe', () => {
  class Body {
    @IsString()
    name: string;
  }
  const pipe = createValidationPipe();

  it('refuses unsafe bodies and queries with VALIDATION_FAILED before transforming them', async () => {
    const error = await pipe.transform({ name: 'a\u0000' }, { type: 'body', metatype: Body }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).getStatus()).toBe(HttpStatus.BAD_REQUEST);
    expect((error as ApiError).code).toBe('VALIDATION_FAILED');
    expect((error as ApiError).details).toEqual([{ field: 'name', message: expect.stringContaining('NUL') }]);
    const query = await pipe.transform({ type: '\u0000' }, { type: 'query', metatype: Object }).catch((e: unknown) => e);
    expect((query as ApiError).code).toBe('VALIDATION_FAILED');
    const root = await pipe.transform(nested(1000), { type: 'body', metatype: Body }).catch((e: unknown) => e);
    expect((root as ApiError).details).toEqual([{ field: 'a', message: expect.stringContaining('levels deep') }]);
  });

  it('still validates as before', async () => {
    await expect(pipe.transform({ name: 'ok' }, { type: 'body', metatype: Body })).resolves.toEqual({ name: 'ok' });
    await expect(pipe.transform({ name: 1 }, { type: 'body', metatype: Body })).rejects.toBeInstanceOf(ApiError);
    // Path parameters keep their own pipes' answers (unknown ids are 404s, not 400s).
    await expect(pipe.transform('\u0000', { type: 'param', metatype: String, data: 'id' })).resolves.toBe('\u0000');
  });
});
