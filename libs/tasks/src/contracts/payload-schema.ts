import { ValidationTypes } from 'class-validator';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import type { TaskTypeDefinition } from './task-type';

type JsonSchema = Record<string, unknown>;

// class-transformer keeps its @Type() metadata in an internal module that ships no typings.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { defaultMetadataStorage } = require('class-transformer/cjs/storage') as { defaultMetadataStorage: unknown };

const REF_PREFIX = '#/definitions/';

function collectRefs(node: unknown, into: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) collectRefs(item, into);
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && value.startsWith(REF_PREFIX)) into.add(value.slice(REF_PREFIX.length));
      else collectRefs(value, into);
    }
  }
}

/**
 * A `Map`, `Object` or `Array` property (file.clean's `columns`, a column's `formats`) comes out
 * as its entry schema (`additionalProperties`, `items`) plus a `$ref` to the built-in class,
 * whose empty, closed schema would refuse every entry (and names a type `Array` in generated
 * clients): the entry schema alone says what the API checks.
 */
const CONTAINERS = ['Map', 'Object', 'Array', 'Set'];

function withoutContainerRefs(node: unknown): JsonSchema {
  if (Array.isArray(node)) return node.map(withoutContainerRefs) as unknown as JsonSchema;
  if (!node || typeof node !== 'object') return node as JsonSchema;
  const entries = Object.entries(node).filter(([key, value]) => !(key === '$ref' && CONTAINERS.some((name) => value === `${REF_PREFIX}${name}`)));
  const schema: JsonSchema = Object.fromEntries(entries.map(([key, value]) => [key, withoutContainerRefs(value)]));
  // `@IsUUID()` takes versions 1-8 with the RFC variant (and the nil and max ids); the `uuid`
  // format of standard validators is looser (any hex, a `urn:uuid:` prefix): say it exactly.
  if (schema.format === 'uuid') schema.pattern = UUID_PATTERN;
  // `@IsOptional()` skips every rule for null as for a missing field: the API accepts null there.
  if (schema[NULLABLE]) {
    const { [NULLABLE]: _marker, description, ...rest } = schema;
    return { ...(description ? { description } : {}), anyOf: [rest, { type: 'null' }] };
  }
  return schema;
}

const NULLABLE = 'x-optional';

const UUID_PATTERN =
  '^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|[fF]{8}-[fF]{4}-[fF]{4}-[fF]{4}-[fF]{12})$';

/**
 * JSON Schema (draft-07 style) of a payload class, derived from the same class-validator
 * rules the API enforces, with the nested classes it references under `definitions`.
 */
export function payloadJsonSchema(definition: TaskTypeDefinition): JsonSchema {
  // class-transformer's @Type metadata lets nested arrays point at their item class.
  const all = validationMetadatasToSchemas({
    refPointerPrefix: REF_PREFIX,
    additionalConverters: { [ValidationTypes.CONDITIONAL_VALIDATION]: (meta: { name?: string }) => (meta.name === 'isOptional' ? { [NULLABLE]: true } : {}) },
    classTransformerMetadataStorage: defaultMetadataStorage as never,
  }) as Record<string, JsonSchema>;
  const root = withoutContainerRefs(all[definition.payload.name] ?? { type: 'object', properties: {} });
  const needed = new Set<string>();
  collectRefs(root, needed);
  // Walk references transitively so nested rule classes are all included.
  for (const name of needed) collectRefs(all[name], needed);
  needed.delete(definition.payload.name);
  for (const name of CONTAINERS) needed.delete(name);
  const schema: JsonSchema = { $schema: 'http://json-schema.org/draft-07/schema#', additionalProperties: false, ...root };
  // The API refuses unknown fields at every depth, so the schema says so at every depth too.
  if (needed.size > 0) {
    schema.definitions = Object.fromEntries([...needed].map((name) => [name, { additionalProperties: false, ...withoutContainerRefs(all[name]) }]));
  }
  return schema;
}
