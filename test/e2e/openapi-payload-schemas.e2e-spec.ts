import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { nearSchema } from './support/schema-arbitrary';
import { http, startStack, type Stack } from './support/stack';

/**
 * Every task type's published payload schema, run by a standard validator (ajv + ajv-formats),
 * accepts a payload exactly when the API does: generated payloads near each schema's edges are
 * sent to `POST /v1/tasks` and the two verdicts compared.
 */
describe('OpenAPI payload schemas agree with the API', () => {
  let stack: Stack;
  let document: any;
  let ajv: Ajv;

  beforeAll(async () => {
    stack = await startStack({ worker: false });
    document = (await http(stack.apiUrl, 'GET', '/docs/json', undefined, { authorization: '' })).body;
    ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    // The two extension keywords the document describes for rules JSON Schema cannot state (file.clean).
    ajv.addKeyword({
      keyword: 'x-distinctValues',
      type: 'object',
      schemaType: 'boolean',
      validate: (on: boolean, value: Record<string, unknown>) => !on || new Set(Object.values(value)).size === Object.keys(value).length,
    });
    ajv.addKeyword({
      keyword: 'x-maxDateFormats',
      type: 'object',
      schemaType: 'number',
      validate: (max: number, value: Record<string, { formats?: unknown } | null>) =>
        Object.values(value).reduce((sum, rule) => sum + (Array.isArray(rule?.formats) ? rule.formats.length : 0), 0) <= max,
    });
    // The document's components, addressable as `openapi#/components/schemas/<name>`.
    ajv.addSchema({ $id: 'openapi', components: document.components });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('publishes one payload schema per type a tenant may enqueue', async () => {
    const types = (await http(stack.apiUrl, 'GET', '/v1/task-types')).body.taskTypes.map((t: { type: string }) => t.type).sort();
    const published = Object.values(document.components.schemas as Record<string, any>)
      .map((schema) => schema['x-task-type'])
      .filter(Boolean)
      .sort();
    expect(published).toEqual(types);
    expect(types.length).toBeGreaterThanOrEqual(6);
  });

  it('ajv and the API agree on generated payloads of every type', async () => {
    const schemas = Object.entries(document.components.schemas as Record<string, any>).filter(([, schema]) => schema['x-task-type']);
    const resolve = (ref: string) => document.components.schemas[ref.replace('#/components/schemas/', '')];
    const disagreements: unknown[] = [];
    let accepted = 0;
    let refused = 0;
    for (const [name, schema] of schemas) {
      const validate = ajv.compile({ $ref: `openapi#/components/schemas/${name}` });
      await fc
        .assert(
          fc.asyncProperty(nearSchema(schema, resolve), async (payload) => {
            const response = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: schema['x-task-type'], payload });
            if (response.status !== 202 && response.status !== 400) disagreements.push({ payload, status: response.status, body: response.body });
            const api = response.status === 202;
            const published = validate(payload);
            if (api) accepted++;
            else refused++;
            if (api !== published) disagreements.push({ type: schema['x-task-type'], payload, api: response.body?.error ?? 'accepted', ajv: validate.errors });
            return api === published;
          }),
          { numRuns: 60, endOnFailure: true },
        )
        .catch(() => undefined);
    }
    expect(disagreements).toEqual([]);
    // Both verdicts occur, so the comparison means something.
    expect(accepted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(50);
  }, 300_000);

  it('ajv and the API agree on file.clean rules that custom validators check', async () => {
    const validate = ajv.compile({ $ref: 'openapi#/components/schemas/Payload_file_clean' });
    const fileId = '00000000-0000-7000-8000-000000000000';
    const formats = (count: number) => Array.from({ length: count }, () => 'YYYY-MM-DD');
    const cases: Array<[rules: Record<string, unknown>, accepted: boolean]> = [
      [{ columns: { name: { type: 'string', case: 'upper' } } }, true],
      [{ columns: { n: { type: 'integer', case: 'upper' } } }, false],
      [{ columns: { n: { type: 'integer', case: null } } }, true],
      [{ columns: { d: { type: 'date', formats: ['DD.MM.YYYY', 'D MMM YYYY[ H:mm]'] } } }, true],
      [{ columns: { d: { type: 'date', formats: ['DD.MM.YYYY', 'YYYY-MM'] } } }, false],
      [{ columns: { d: { type: 'date', formats: ['YYYY-M-D h:mm'] } } }, false],
      [{ columns: { d: { type: 'string', formats: ['DD.MM.YYYY'] } } }, false],
      [{ columns: { d: { type: 'date', formats: ['[[[[[[[x]]]]]]]YYYY-M-D'] } } }, false],
      [{ columns: { p: { type: 'phone', defaultCountry: 'DE' } } }, true],
      [{ columns: { p: { type: 'phone', defaultCountry: 'XX' } } }, false],
      [{ columns: { p: { type: 'email', defaultCountry: 'DE' } } }, false],
      [{ columns: { '': { type: 'string' } } }, false],
      [{ headers: { rename: { a: 'x', b: 'y' } } }, true],
      [{ headers: { rename: { a: 'x', b: 'x' } } }, false],
      [{ columns: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`d${i}`, { type: 'date', formats: formats(20) }])) }, true],
      [{ columns: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`d${i}`, { type: 'date', formats: formats(i === 0 ? 1 : 20) }])) }, false],
    ];
    const verdicts = [];
    for (const [rules, accepted] of cases) {
      const response = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'file.clean', payload: { fileId, rules } });
      verdicts.push({ rules, api: response.status === 202, ajv: validate({ fileId, rules }), expected: accepted });
    }
    expect(verdicts.filter((v) => v.api !== v.expected || v.ajv !== v.expected)).toEqual([]);
  });
});
