import 'reflect-metadata';
import type { ArgumentMetadata } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsInt, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import fc from 'fast-check';
import { fastBodyInstance, isPlainlyValid } from './fast-body-check';
import { NestedDto, OpaqueJson } from './opaque-json';
import { createValidationPipe } from './validation';
import { OpaqueJsonValidationPipe } from './validation.pipe';

class Inner {
  @IsString()
  url: string;
}

class Item {
  @IsString()
  @MaxLength(4)
  kind: string;

  @IsObject()
  @OpaqueJson()
  payload: Record<string, unknown>;
}

/** A value class-transformer changes before class-validator sees it. */
class Scaled {
  @Transform(({ value }: { value: number }) => value * 1000)
  @IsInt()
  @Max(10)
  n: number;
}

/** Every kind of rule the hot DTOs use, and some the fast check leaves to class-validator. */
class Sample {
  @IsString()
  @MaxLength(8)
  name: string;

  @IsObject()
  @OpaqueJson()
  payload: Record<string, unknown>;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10)
  priority?: number;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(3)
  @IsString({ each: true })
  @MaxLength(4, { each: true })
  @Matches(/^[a-z]+$/, { each: true })
  tags?: string[];

  @IsOptional()
  @IsIn(['a', 'b'])
  mode?: string;

  @IsOptional()
  @IsString()
  @MinLength(2)
  note?: string;

  @IsOptional()
  @IsObject()
  @NestedDto(() => Inner, {})
  inner?: Inner;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(2)
  @NestedDto(() => Item)
  items?: Item[];
}

const body: ArgumentMetadata = { type: 'body', metatype: Sample };
/**
 * The pipe without the fast check: class-transformer and class-validator for every body, with
 * @OpaqueJson values kept as parsed (an expected type turns the fast check off). Plain Nest
 * ValidationPipe is no oracle for opaque values: class-transformer's copy drops keys named like
 * Object.prototype members (`{"toString": []}`), which is why the app never copies them.
 */
const fullPipe = new OpaqueJsonValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true, expectedType: Sample });
const full = (value: unknown) =>
  fullPipe.transform(structuredClone(value), body).then(
    (instance: unknown) => ({ instance }),
    (error: unknown) => ({ error }),
  );

const anyValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -5, max: 15 }),
  fc.double(),
  fc.string({ maxLength: 10 }),
  fc.array(fc.oneof(fc.string({ maxLength: 6 }), fc.integer()), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
);
/** Mostly a plausible value for the property, sometimes anything at all. */
const mostly = <T>(plausible: fc.Arbitrary<T>) => fc.oneof({ arbitrary: plausible, weight: 4 }, { arbitrary: anyValue, weight: 1 });
/** Absent now and then (optional properties), or absent mostly (what the fast check leaves to the pipe). */
const maybe = <T>(value: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 1 }, { arbitrary: mostly(value), weight: 2 });
const rarely = (value: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: value, weight: 1 });
const bodies = fc
  .record({
    name: mostly(fc.string({ maxLength: 10 })),
    payload: mostly(fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue(), { maxKeys: 3 })),
    priority: maybe(fc.integer({ min: 0, max: 11 })),
    tags: maybe(fc.array(fc.stringMatching(/^[a-z]{0,5}$/), { maxLength: 4 })),
    mode: maybe(fc.constantFrom('a', 'b', 'c')),
    note: rarely(mostly(fc.string({ maxLength: 3 }))),
    inner: maybe(fc.record({ url: mostly(fc.string({ maxLength: 3 })) })),
    items: maybe(
      fc.array(
        fc.record(
          {
            kind: mostly(fc.string({ maxLength: 5 })),
            payload: mostly(fc.dictionary(fc.string({ maxLength: 2 }), fc.jsonValue(), { maxKeys: 2 })),
            extra: rarely(anyValue),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
    ),
    extra: rarely(anyValue),
  })
  // As a body parser hands it over: plain objects, no undefined.
  .map((value) => JSON.parse(JSON.stringify(value)) as Record<string, unknown>);

describe('fastBodyInstance', () => {
  it('takes only bodies class-validator accepts, and builds the same instance', async () => {
    let taken = 0;
    await fc.assert(
      fc.asyncProperty(bodies, async (value) => {
        const fast = fastBodyInstance(Sample, value);
        if (!fast) return;
        taken += 1;
        const outcome = await full(value);
        expect(outcome).toEqual({ instance: fast });
        expect(fast).toBeInstanceOf(Sample);
      }),
      { numRuns: 3000 },
    );
    // Not vacuous: plenty of generated bodies were plain enough for the fast check.
    expect(taken).toBeGreaterThan(50);
  });

  it('takes a plain valid body as parsed, nested DTOs as instances, and leaves unknown rules, transformed values and unknown fields to the pipe', () => {
    const payload = { deep: { list: [1, 2] } };
    const itemPayload = { x: [1] };
    const fast = fastBodyInstance(Sample, {
      name: 'job',
      payload,
      priority: 3,
      tags: ['ab'],
      mode: 'a',
      inner: { url: 'x' },
      items: [{ kind: 'k', payload: itemPayload }],
    });
    expect(fast).toBeInstanceOf(Sample);
    expect(fast).toMatchObject({ name: 'job', priority: 3, tags: ['ab'], mode: 'a', inner: { url: 'x' } });
    expect((fast as Sample).payload).toBe(payload);
    expect((fast as Sample).inner).toBeInstanceOf(Inner);
    expect((fast as Sample).items![0]).toBeInstanceOf(Item);
    expect((fast as Sample).items![0].payload).toBe(itemPayload);
    expect(fastBodyInstance(Sample, { name: 'job', payload: {}, items: [{ kind: 'k', payload: {}, extra: 1 }] })).toBeUndefined();
    expect(fastBodyInstance(Sample, { name: 'job', payload: {}, note: 'long enough' })).toBeUndefined();
    expect(fastBodyInstance(Scaled, { n: 5 })).toBeUndefined();
    expect(fastBodyInstance(Sample, { name: 'job', payload: {}, extra: 1 })).toBeUndefined();
    expect(fastBodyInstance(Sample, { name: 'job', payload: {}, priority: null })).toBeUndefined();
    expect(fastBodyInstance(Sample, [{ name: 'job', payload: {} }])).toBeUndefined();
  });

  it('lets the global pipe answer bad bodies with the errors it always gave', async () => {
    const pipe = createValidationPipe();
    await expect(pipe.transform({ name: 'job', payload: {}, extra: 1 }, body)).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [{ field: 'extra', message: 'property extra should not exist' }],
    });
    const payload = { a: 1 };
    const accepted = (await pipe.transform({ name: 'job', payload }, body)) as Sample;
    expect(accepted).toBeInstanceOf(Sample);
    expect(accepted.payload).toBe(payload);
  });

  it('judges payload classes as the task contracts validate them (a class without rules takes an empty object)', () => {
    class NoRules {}
    expect(isPlainlyValid(NoRules, {})).toBe(true);
    expect(isPlainlyValid(NoRules, { a: 1 })).toBe(false);
    expect(fastBodyInstance(NoRules, {})).toBeUndefined();
    expect(isPlainlyValid(Sample, { name: 'job', payload: {} })).toBe(true);
    expect(isPlainlyValid(Sample, { name: 'job' })).toBe(false);
  });
});
