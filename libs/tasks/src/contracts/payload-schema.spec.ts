import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsArray, IsIn, IsInt, IsOptional, IsString, IsUUID, Max, Min, ValidateNested } from 'class-validator';
import { SYSTEM_NOOP, SYSTEM_SLEEP } from '@conveyor/system-tasks';
import { payloadJsonSchema } from './payload-schema';
import { defineTaskType } from './task-type';

class SchemaSpecColumnRule {
  @IsString()
  column: string;

  @IsIn(['trim', 'lowercase'])
  action: string;
}

class SchemaSpecOptions {
  @IsInt()
  @Min(1)
  @Max(10)
  level: number;

  @ValidateNested()
  @Type(() => SchemaSpecColumnRule)
  rule: SchemaSpecColumnRule;
}

class SchemaSpecPayload {
  @IsInt()
  @Min(0)
  @Max(100)
  count: number;

  @IsOptional()
  @IsString()
  label?: string;

  @IsIn(['csv', 'json'])
  format: string;

  @ValidateNested()
  @Type(() => SchemaSpecOptions)
  options: SchemaSpecOptions;
}

class SchemaSpecListItem {
  @IsString()
  name: string;
}

class SchemaSpecListPayload {
  @ValidateNested({ each: true })
  @Type(() => SchemaSpecListItem)
  items: SchemaSpecListItem[];
}

class SchemaSpecEmptyPayload {}

const define = (payload: new () => object) => defineTaskType({ type: 'spec.schema', queue: 'spec', description: 'schema test', payload });

describe('payloadJsonSchema', () => {
  it('describes properties, required keys and bounds from the class-validator rules', () => {
    const schema = payloadJsonSchema(define(SchemaSpecPayload));
    expect(schema).toMatchObject({
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      additionalProperties: false,
      properties: {
        count: { type: 'integer', minimum: 0, maximum: 100 },
        // Optional: @IsOptional skips the rules for null too, so null is allowed.
        label: { anyOf: [{ type: 'string' }, { type: 'null' }] },
        format: { enum: ['csv', 'json'] },
        options: { $ref: '#/definitions/SchemaSpecOptions' },
      },
    });
    expect([...(schema.required as string[])].sort()).toEqual(['count', 'format', 'options']);
  });

  it('puts nested classes, transitively, under definitions and nothing unrelated', () => {
    const schema = payloadJsonSchema(define(SchemaSpecPayload));
    const definitions = schema.definitions as Record<string, Record<string, unknown>>;
    expect(Object.keys(definitions).sort()).toEqual(['SchemaSpecColumnRule', 'SchemaSpecOptions']);
    expect(definitions.SchemaSpecOptions).toMatchObject({
      type: 'object',
      properties: {
        level: { type: 'integer', minimum: 1, maximum: 10 },
        rule: { $ref: '#/definitions/SchemaSpecColumnRule' },
      },
      required: ['level', 'rule'],
    });
    expect(definitions.SchemaSpecColumnRule).toMatchObject({
      properties: { column: { type: 'string' }, action: { enum: ['trim', 'lowercase'] } },
    });
  });

  // BUG (reported): payloadJsonSchema does not pass class-transformer's metadata storage, so
  // class-validator-jsonschema reads the element type of `Item[]` from design:type (`Array`).
  it('resolves the element class of a nested array from @Type', () => {
    const schema = payloadJsonSchema(define(SchemaSpecListPayload));
    expect(schema.properties).toEqual({
      items: { type: 'array', items: { $ref: '#/definitions/SchemaSpecListItem' } },
    });
    expect(Object.keys(schema.definitions as object)).toEqual(['SchemaSpecListItem']);
  });

  it('gives an empty class an object schema with no properties and no extra keys allowed', () => {
    const schema = payloadJsonSchema(define(SchemaSpecEmptyPayload));
    expect(schema).toEqual({
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: {},
      additionalProperties: false,
    });
  });

  it('describes the real SleepPayload', () => {
    const schema = payloadJsonSchema(SYSTEM_SLEEP);
    expect(schema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      properties: {
        ms: { type: 'integer', minimum: 0, maximum: 3_600_000 },
        failTimes: { anyOf: [{ type: 'integer', minimum: 0, maximum: 100 }, { type: 'null' }] },
      },
      required: ['ms'],
    });
    expect(schema.definitions).toBeUndefined();
  });

  it('describes the real NoopPayload as an empty object', () => {
    expect(payloadJsonSchema(SYSTEM_NOOP)).toMatchObject({ type: 'object', properties: {}, additionalProperties: false });
  });

  it('pins uuids to the versions @IsUUID takes and drops the empty Map and Array schemas', () => {
    class SchemaSpecRefs {
      @IsUUID()
      fileId: string;

      @IsOptional()
      @IsArray()
      @IsString({ each: true })
      names?: string[];
    }
    const schema = payloadJsonSchema(define(SchemaSpecRefs)) as { properties: Record<string, Record<string, unknown>>; definitions?: object };
    expect(schema.properties.fileId).toMatchObject({ type: 'string', format: 'uuid', pattern: expect.stringContaining('[1-8]') });
    expect(JSON.stringify(schema)).not.toMatch(/definitions\/(Array|Map)/);
    expect(schema.definitions ?? {}).not.toHaveProperty('Array');
  });
});
