import 'reflect-metadata';
import { type ValidationError } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsString, Max, Min, MinLength, ValidateNested, validateSync } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { DomainError } from '@conveyor/errors';
import { createValidationPipe, flattenValidationErrors, validationFailed } from './validation';

function error(property: string, constraints?: Record<string, string>, children: ValidationError[] = []): ValidationError {
  return { property, constraints, children };
}

describe('flattenValidationErrors', () => {
  it('names a top-level property by itself', () => {
    expect(flattenValidationErrors([error('name', { isString: 'name must be a string' })])).toEqual([{ field: 'name', message: 'name must be a string' }]);
  });

  it('joins an object child with a dot', () => {
    const errors = [error('a', undefined, [error('b', { isInt: 'b must be an integer' })])];
    expect(flattenValidationErrors(errors)).toEqual([{ field: 'a.b', message: 'b must be an integer' }]);
  });

  it('puts an array index in brackets and continues with dots below it', () => {
    const errors = [error('a', undefined, [error('0', undefined, [error('c', { isString: 'c must be a string' })])])];
    expect(flattenValidationErrors(errors)).toEqual([{ field: 'a[0].c', message: 'c must be a string' }]);
  });

  it('handles nested arrays and deep paths', () => {
    const errors = [error('rules', undefined, [error('2', undefined, [error('steps', undefined, [error('10', { isIn: 'bad step' })])])])];
    expect(flattenValidationErrors(errors)).toEqual([{ field: 'rules[2].steps[10]', message: 'bad step' }]);
  });

  it('gives one detail per violated constraint, and keeps sibling errors', () => {
    const errors = [
      error('count', { isInt: 'count must be an integer', min: 'count must not be less than 0' }),
      error('name', { isString: 'name must be a string' }),
    ];
    expect(flattenValidationErrors(errors)).toEqual([
      { field: 'count', message: 'count must be an integer' },
      { field: 'count', message: 'count must not be less than 0' },
      { field: 'name', message: 'name must be a string' },
    ]);
  });

  it('reports a parent constraint and its children', () => {
    const errors = [error('a', { isObject: 'a must be an object' }, [error('b', { isInt: 'b bad' })])];
    expect(flattenValidationErrors(errors)).toEqual([
      { field: 'a', message: 'a must be an object' },
      { field: 'a.b', message: 'b bad' },
    ]);
  });

  it('returns nothing for no errors', () => {
    expect(flattenValidationErrors([])).toEqual([]);
  });

  describe('with real class-validator errors', () => {
    class Step {
      @IsString()
      @MinLength(2)
      name: string;
    }
    class Payload {
      @IsInt()
      @Min(1)
      @Max(5)
      level: number;

      @ValidateNested({ each: true })
      @Type(() => Step)
      steps: Step[];
    }

    it('flattens what validateSync produces', () => {
      const input = plainToInstance(Payload, { level: 9, steps: [{ name: 'ok' }, { name: 1 }] });
      const details = flattenValidationErrors(validateSync(input));
      expect(details.map((d) => d.field)).toEqual(['level', 'steps[1].name', 'steps[1].name']);
      expect(details[0].message).toMatch(/level must not be greater than 5/);
    });
  });
});

describe('validationFailed / createValidationPipe', () => {
  it('wraps details in an invalid VALIDATION_FAILED DomainError (400)', () => {
    const details = [{ field: 'x', message: 'bad' }];
    const failure = validationFailed(details);
    expect(failure).toBeInstanceOf(DomainError);
    expect(failure.kind).toBe('invalid');
    expect(failure.code).toBe('VALIDATION_FAILED');
    expect(failure.details).toBe(details);
  });

  it('refuses unknown fields through the pipe with flattened details', async () => {
    class Body {
      @IsInt()
      n: number;
    }
    const pipe = createValidationPipe();
    await expect(pipe.transform({ n: 1 }, { type: 'body', metatype: Body })).resolves.toEqual({ n: 1 });
    const rejection = await pipe.transform({ n: 'x', extra: true }, { type: 'body', metatype: Body }).catch((e: unknown) => e);
    expect(rejection).toBeInstanceOf(DomainError);
    const fields = (rejection as DomainError).details!.map((d) => d.field).sort();
    expect(fields).toEqual(['extra', 'n']);
  });
});
