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
});
