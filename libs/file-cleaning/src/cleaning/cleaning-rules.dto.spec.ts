import 'reflect-metadata';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { FileCleanPayload } from '../file-cleaning.contract';
import { CleaningRulesDto, RULE_LIMITS, validateCleaningRules } from './cleaning-rules.dto';

// class-transformer keeps its @Type() metadata in an internal module that ships no typings.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { defaultMetadataStorage } = require('class-transformer/cjs/storage') as { defaultMetadataStorage: unknown };

const fields = (rules: unknown) => validateCleaningRules(rules).map((problem) => problem.field);
const messages = (rules: unknown) => validateCleaningRules(rules).map((problem) => `${problem.field}: ${problem.message}`);

describe('cleaning rules validation', () => {
  it('accepts the rules of the issue example, and no rules at all', () => {
    expect(
      validateCleaningRules({
        trimWhitespace: true,
        collapseWhitespace: true,
        emptyAsNull: true,
        dropEmptyRows: true,
        headers: { normalize: 'snake_case', rename: { old: 'new' }, drop: ['col'] },
        columns: {
          email: { type: 'email', required: true, onInvalid: 'reject', case: 'lower' },
          signup_date: { type: 'date', formats: ['YYYY-MM-DD', 'DD.MM.YYYY'], onInvalid: 'null' },
          age: { type: 'integer', onInvalid: 'reject' },
          phone: { type: 'phone', defaultCountry: 'DE' },
        },
        dedupe: { columns: ['email'], keep: 'first' },
      }),
    ).toEqual([]);
    expect(validateCleaningRules(undefined)).toEqual([]);
    expect(validateCleaningRules({})).toEqual([]);
  });

  it('refuses a non-object', () => {
    expect(messages([])).toEqual(['rules: rules must be an object']);
    expect(messages('x')).toEqual(['rules: rules must be an object']);
  });

  it('names each bad field by its path with a clear message', () => {
    const problems = messages({
      trimWhitespace: 'yes',
      headers: { normalize: 'kebab' },
      columns: { age: { type: 'int', onInvalid: 'drop' } },
      dedupe: { keep: 'middle', columns: [] },
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'trimWhitespace: trimWhitespace must be a boolean value',
        'headers.normalize: normalize must be one of "snake_case", "camelCase", "lower", "none"',
        'columns.age.type: type must be one of "string", "integer", "number", "boolean", "date", "datetime", "email", "url", "phone"',
        'columns.age.onInvalid: onInvalid must be one of "reject", "null", "keep"',
        'dedupe.keep: keep must be one of "first", "last"',
        'dedupe.columns: columns must contain at least 1 elements',
      ]),
    );
  });

  it('refuses unknown fields at every depth', () => {
    expect(fields({ trim: true })).toEqual(['trim']);
    expect(fields({ columns: { a: { type: 'string', colour: 'red' } } })).toEqual(['columns.a.colour']);
    expect(fields({ headers: { normalise: 'lower' } })).toEqual(['headers.normalise']);
  });

  it('allows case, formats and defaultCountry only where they make sense', () => {
    expect(messages({ columns: { n: { type: 'integer', case: 'upper' } } })).toEqual([
      'columns.n.case: case applies only to columns of type "string", "email", not "integer"',
    ]);
    expect(messages({ columns: { d: { type: 'string', formats: ['YYYY'] } } })).toEqual(
      expect.arrayContaining(['columns.d.formats: formats applies only to columns of type "date", "datetime", not "string"']),
    );
    expect(messages({ columns: { p: { type: 'email', defaultCountry: 'DE' } } })).toEqual([
      'columns.p.defaultCountry: defaultCountry applies only to columns of type "phone", not "email"',
    ]);
  });

  it('checks date formats and phone countries', () => {
    expect(messages({ columns: { d: { type: 'date', formats: ['YYYY-MM-DD', 'MM-DD'] } } })).toEqual([
      'columns.d.formats: formats[1] must contain a year (YYYY or YY) exactly once, outside "[...]": "MM-DD"',
    ]);
    expect(fields({ columns: { p: { type: 'phone', defaultCountry: 'de' } } })).toEqual(['columns.p.defaultCountry']);
    expect(fields({ columns: { p: { type: 'phone', defaultCountry: 'XX' } } })).toEqual(['columns.p.defaultCountry']);
  });

  it('checks rename targets and column names', () => {
    expect(fields({ headers: { rename: { a: 'x', b: 'x' } } })).toEqual(['headers.rename']);
    expect(fields({ headers: { rename: { a: '' } } })).toEqual(['headers.rename']);
    expect(fields({ headers: { rename: { a: 5 } } })).toEqual(['headers.rename']);
    expect(fields({ columns: { '': { type: 'string' } } })).toEqual(['columns']);
    expect(fields({ dedupe: { columns: ['a', 'a'] } })).toEqual(['dedupe.columns']);
  });

  it('publishes columns as a map of column rules in JSON Schema', () => {
    const schemas = validationMetadatasToSchemas({
      refPointerPrefix: '#/definitions/',
      classTransformerMetadataStorage: defaultMetadataStorage as never,
    }) as Record<string, { properties: Record<string, unknown> }>;
    const rules = schemas[CleaningRulesDto.name];
    expect(rules.properties.columns).toMatchObject({ type: 'object', additionalProperties: { $ref: '#/definitions/ColumnRuleDto' } });
    expect(rules.properties.headers).toMatchObject({ $ref: '#/definitions/HeaderRulesDto' });
    expect(schemas.HeaderRulesDto.properties.rename).toMatchObject({ type: 'object', additionalProperties: { type: 'string' } });
    expect(schemas.ColumnRuleDto.properties.type).toMatchObject({ enum: expect.arrayContaining(['email', 'phone']) });
  });

  it('bounds rule complexity, and says so with RULES_TOO_COMPLEX', () => {
    const codes = (rules: unknown) => validateCleaningRules(rules).map((problem) => `${problem.field} ${problem.code}`);
    // The repro: 18 optional groups, 50 formats.
    expect(codes({ columns: { d: { type: 'date', onInvalid: 'null', formats: Array(50).fill('[x]'.repeat(18) + 'YYYYMMDD') } } })).toEqual([
      'columns.d.formats RULES_TOO_COMPLEX',
      'columns.d.formats RULES_TOO_COMPLEX',
    ]);
    const groups = (n: number) => '[x]'.repeat(n) + 'YYYYMMDD';
    expect(validateCleaningRules({ columns: { d: { type: 'date', formats: [groups(RULE_LIMITS.optionalGroupsPerFormat)] } } })).toEqual([]);
    expect(messages({ columns: { d: { type: 'date', formats: ['YYYYMMDD', groups(RULE_LIMITS.optionalGroupsPerFormat + 1)] } } })).toEqual([
      `columns.d.formats: formats[1] has more than ${RULE_LIMITS.optionalGroupsPerFormat} optional "[...]" groups`,
    ]);
    const many = (n: number) => Array.from({ length: n }, (_, i) => `YYYY-MM-DD${'x'.repeat(i % 40)}`);
    expect(validateCleaningRules({ columns: { d: { type: 'date', formats: many(RULE_LIMITS.formatsPerColumn) } } })).toEqual([]);
    expect(codes({ columns: { d: { type: 'date', formats: many(RULE_LIMITS.formatsPerColumn + 1) } } })).toEqual(['columns.d.formats RULES_TOO_COMPLEX']);
    const columns = (count: number, formats: number) =>
      Object.fromEntries(Array.from({ length: count }, (_, i) => [`c${i}`, formats ? { type: 'date', formats: many(formats) } : { type: 'string' }]));
    const perColumn = RULE_LIMITS.formatsPerColumn;
    expect(validateCleaningRules({ columns: columns(RULE_LIMITS.formatsTotal / perColumn, perColumn) })).toEqual([]);
    expect(messages({ columns: columns(RULE_LIMITS.formatsTotal / perColumn + 1, perColumn) })).toEqual([
      `columns: columns may list at most ${RULE_LIMITS.formatsTotal} date formats in all (${RULE_LIMITS.formatsTotal + perColumn} given)`,
    ]);
    expect(codes({ columns: columns(RULE_LIMITS.columnRules + 1, 0) })).toEqual(['columns RULES_TOO_COMPLEX']);
    const rename = Object.fromEntries(Array.from({ length: RULE_LIMITS.columnRules + 1 }, (_, i) => [`a${i}`, `b${i}`]));
    expect(codes({ headers: { rename } })).toEqual(['headers.rename RULES_TOO_COMPLEX']);
    // Plain mistakes carry no code: they are INVALID_RULES, not too complex.
    expect(codes({ columns: { d: { type: 'date', formats: ['MM-DD'] } } })).toEqual(['columns.d.formats undefined']);
  });

  // Issue 11: `rules: []` passed the API (ValidateNested validates an array's items, and [] has
  // none) and failed only in the worker. The API's payload check and the worker's must agree.
  it.each<[string, unknown]>([
    ['an array', []],
    ['an array of rules', [{ trimWhitespace: true }]],
    ['a string', 'trim'],
    ['a number', 5],
    ['headers as an array', { headers: [] }],
    ['dedupe as an array', { dedupe: [] }],
    ['columns as an array', { columns: [] }],
    ['a column rule as an array', { columns: { a: [] } }],
    ['a column rule as a string', { columns: { a: 'date' } }],
    ['a column rule as null', { columns: { a: null } }],
    ['formats as a string', { columns: { a: { type: 'date', formats: 'YYYY-MM-DD' } } }],
    ['too many formats', { columns: { a: { type: 'date', formats: Array(21).fill('YYYY-MM-DD') } } }],
  ])('refuses rules that are %s both in the API payload and in the worker', (_, rules) => {
    expect(validateCleaningRules(rules)).not.toEqual([]);
    const payload = plainToInstance(FileCleanPayload, { fileId: '01936f7c-0000-7000-8000-000000000001', rules });
    const errors = validateSync(payload, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false });
    expect(errors.map((error) => error.property)).toEqual(['rules']);
  });

  it('refuses an output option that is not an object', () => {
    const payload = plainToInstance(FileCleanPayload, { fileId: '01936f7c-0000-7000-8000-000000000001', output: [] });
    expect(validateSync(payload, { whitelist: true, forbidNonWhitelisted: true }).map((error) => error.property)).toEqual(['output']);
  });
});
