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
 * JSON Schema (draft-07 style) of a payload class, derived from the same class-validator
 * rules the API enforces, with the nested classes it references under `definitions`.
 */
export function payloadJsonSchema(definition: TaskTypeDefinition): JsonSchema {
  // class-transformer's @Type metadata lets nested arrays point at their item class.
  const all = validationMetadatasToSchemas({
    refPointerPrefix: REF_PREFIX,
    classTransformerMetadataStorage: defaultMetadataStorage as never,
  }) as Record<string, JsonSchema>;
  const root = all[definition.payload.name] ?? { type: 'object', properties: {} };
  const needed = new Set<string>();
  collectRefs(root, needed);
  // Walk references transitively so nested rule classes are all included.
  for (const name of needed) collectRefs(all[name], needed);
  needed.delete(definition.payload.name);
  const schema: JsonSchema = { $schema: 'http://json-schema.org/draft-07/schema#', additionalProperties: false, ...root };
  // The API refuses unknown fields at every depth, so the schema says so at every depth too.
  if (needed.size > 0) {
    schema.definitions = Object.fromEntries([...needed].map((name) => [name, { additionalProperties: false, ...all[name] }]));
  }
  return schema;
}
