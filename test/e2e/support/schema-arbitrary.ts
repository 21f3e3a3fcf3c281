import fc from 'fast-check';

type Schema = Record<string, any>;

/**
 * Payload-like values near a JSON Schema's edges: every field may be present or not, hold a
 * value of its declared kind (enum members, numbers around the bounds, strings around the
 * length limits, uuids and near-uuids) or of another kind, and objects may carry an unknown
 * key. About half of what it draws is valid, which is what a comparison of two validators needs.
 */
export function nearSchema(schema: Schema, resolve: (ref: string) => Schema, depth = 0): fc.Arbitrary<unknown> {
  if (schema.$ref) return nearSchema({ ...resolve(schema.$ref), ...withoutRef(schema) }, resolve, depth);
  const wrong = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string({ maxLength: 5 }), fc.constant([]), fc.constant({}));
  const right = rightKind(schema, resolve, depth);
  return fc.oneof({ weight: 14, arbitrary: right }, { weight: 1, arbitrary: wrong });
}

function withoutRef(schema: Schema): Schema {
  const { $ref: _ref, ...rest } = schema;
  return rest;
}

function rightKind(schema: Schema, resolve: (ref: string) => Schema, depth: number): fc.Arbitrary<unknown> {
  if (schema.anyOf) return fc.oneof(...(schema.anyOf as Schema[]).map((branch) => nearSchema(branch, resolve, depth)));
  if (schema.type === 'null') return fc.constant(null);
  if (schema.enum)
    return fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...(schema.enum as unknown[])) }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) });
  if (schema.type === 'integer' || schema.type === 'number') return numberNear(schema);
  if (schema.type === 'boolean') return fc.boolean();
  if (schema.type === 'string') return stringNear(schema);
  if (schema.type === 'array') {
    const items = schema.items ? nearSchema(schema.items, resolve, depth + 1) : anyJson(1);
    const max = Math.min((schema.maxItems ?? 4) + 1, 6);
    const unique = schema.uniqueItems ? fc.uniqueArray(items, { maxLength: max, selector: (v) => JSON.stringify(v) }) : fc.array(items, { maxLength: max });
    return fc.oneof(unique, fc.array(items, { maxLength: max }));
  }
  if (schema.type === 'object' || schema.properties) {
    if (depth > 3) return fc.constant({});
    const properties = Object.entries((schema.properties ?? {}) as Record<string, Schema>);
    const record = fc.record(Object.fromEntries(properties.map(([key, value]) => [key, nearSchema(value, resolve, depth + 1)])), { requiredKeys: [] });
    const free =
      schema.additionalProperties && typeof schema.additionalProperties === 'object'
        ? fc.dictionary(fc.constantFrom('a', 'b', 'email', ''), nearSchema(schema.additionalProperties, resolve, depth + 1), { maxKeys: 2 })
        : fc.constant({});
    const unknown = fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom('unknownField', 'x') });
    return fc.tuple(record, free, unknown).map(([known, extra, stray]) => ({ ...extra, ...known, ...(stray ? { [stray]: 1 } : {}) }));
  }
  return anyJson(2);
}

function numberNear(schema: Schema): fc.Arbitrary<number> {
  const edges = [schema.minimum, schema.maximum].filter((v): v is number => typeof v === 'number').flatMap((v) => [v - 1, v, v + 1]);
  const inside = fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1_000_000 });
  const all: fc.Arbitrary<number>[] = [inside, fc.constantFrom(0, 1, -1, 0.5, 2.5)];
  if (edges.length > 0) all.push(fc.constantFrom(...edges));
  return fc.oneof(...all);
}

function stringNear(schema: Schema): fc.Arbitrary<string> {
  const options: fc.Arbitrary<string>[] = [fc.string({ maxLength: 8 })];
  if (schema.format === 'uuid')
    options.push(
      fc.uuid(),
      fc.uuid(),
      fc.uuid().map((u) => u.toUpperCase()),
      fc.uuid().map((u) => `urn:uuid:${u}`),
      fc.uuid().map((u) => u.slice(1)),
    );
  if (schema.format === 'date-time') options.push(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()));
  if (schema.pattern) options.push(fc.stringMatching(new RegExp(schema.pattern)));
  if (typeof schema.maxLength === 'number') options.push(fc.constantFrom(schema.maxLength, schema.maxLength + 1).map((n) => 'x'.repeat(n)));
  if (typeof schema.minLength === 'number')
    options.push(
      fc
        .constantFrom(schema.minLength - 1, schema.minLength)
        .filter((n) => n >= 0)
        .map((n) => 'y'.repeat(n)),
    );
  return fc.oneof(...options);
}

/** Any JSON but keys every JSON body refuses (`__proto__`, `constructor`: 400 INVALID_JSON before any schema). */
const anyJson = (maxDepth: number) => fc.jsonValue({ maxDepth }).filter((value) => !/"(__proto__|constructor)"\s*:/.test(JSON.stringify(value)));
