import { http, startStack, type Stack } from './support/stack';

/** The OpenAPI document covers every route the API maps, with the bearer scheme and error bodies. */
describe('OpenAPI document', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ worker: false });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('lists every mapped route, secures /v1 with bearer keys and documents errors and payloads', async () => {
    const response = await http(stack.apiUrl, 'GET', '/docs/json', undefined, { authorization: '' });
    expect(response.status).toBe(200);
    const document = response.body;
    expect(document.openapi).toMatch(/^3\./);
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });

    // The routes Nest actually mapped, as it logs them at start.
    const mapped = stack
      .api!.logs()
      .map((line) => /^Mapped \{(.+), (\w+)\} route$/.exec(String(line.msg)))
      .filter((match): match is RegExpExecArray => !!match)
      .map(([, path, method]) => `${method} ${path.replace(/:(\w+)/g, '{$1}')}`);
    expect(mapped.length).toBeGreaterThanOrEqual(15);
    const documented = Object.entries(document.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(expect.arrayContaining(mapped.sort()));

    for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
      for (const operation of Object.values(item)) {
        if (path.startsWith('/v1/') && !operation['x-public']) {
          expect({ path, security: operation.security }).toEqual({ path, security: [{ bearer: [] }] });
          expect(operation.responses['401'].content['application/json'].schema.$ref).toBe('#/components/schemas/ErrorBody');
        } else {
          expect({ path, security: operation.security }).toEqual({ path, security: [] });
        }
      }
    }
    expect(document.components.schemas.Payload_system_sleep).toMatchObject({ required: ['ms'], properties: { ms: { type: 'integer' } } });
    expect(document.components.schemas.CreateTaskDto.properties.payload.oneOf).toEqual(
      expect.arrayContaining([{ $ref: '#/components/schemas/Payload_system_sleep' }, { $ref: '#/components/schemas/Payload_system_noop' }]),
    );
    expect(document.paths['/v1/tasks'].post.responses).toHaveProperty('202');
    // Schedules: every route has a response schema.
    const schema = (path: string, method: string, status: string) => document.paths[path][method].responses[status]?.content?.['application/json']?.schema;
    expect(schema('/v1/schedules', 'post', '201')).toEqual({ $ref: '#/components/schemas/ScheduleView' });
    expect(schema('/v1/schedules', 'get', '200')).toEqual({ $ref: '#/components/schemas/ScheduleListView' });
    expect(schema('/v1/schedules/{id}', 'get', '200')).toEqual({ $ref: '#/components/schemas/ScheduleDetailView' });
    expect(schema('/v1/schedules/{id}', 'patch', '200')).toEqual({ $ref: '#/components/schemas/ScheduleView' });
    expect(schema('/v1/schedules/{id}/trigger', 'post', '202')).toEqual({ $ref: '#/components/schemas/TriggeredTaskView' });
    expect(document.paths['/v1/schedules/{id}'].delete.responses).toHaveProperty('204');
    expect(document.components.schemas.ScheduleDetailView.properties).toHaveProperty('runs');
    expect(document.components.schemas.ScheduleView.properties.nextRunAt).toBeDefined();
    // Flows too.
    expect(schema('/v1/flows', 'post', '202')).toEqual({ $ref: '#/components/schemas/FlowCreatedView' });
    expect(schema('/v1/flows/{rootId}', 'get', '200')).toEqual({ $ref: '#/components/schemas/FlowView' });
    expect(schema('/v1/flows/{rootId}/cancel', 'post', '200')).toEqual({ $ref: '#/components/schemas/FlowView' });
    expect(document.components.schemas.FlowNodeView.properties.children).toMatchObject({ type: 'array', items: { $ref: '#/components/schemas/FlowNodeView' } });
    expect(document.components.schemas.FlowNodeDto.properties.onFailure.enum).toEqual(['fail-parent', 'ignore', 'continue', 'cancel-siblings']);
    // Cleaning jobs: the multipart form with its pipeline (then), and the response.
    const cleaningJob = document.paths['/v1/cleaning-jobs'].post;
    expect(schema('/v1/cleaning-jobs', 'post', '202')).toEqual({ $ref: '#/components/schemas/CleaningJobView' });
    const form = cleaningJob.requestBody.content['multipart/form-data'];
    expect(form.schema.properties.then).toMatchObject({ type: 'array', maxItems: 10, items: { $ref: '#/components/schemas/PipelineStepDto' } });
    expect(form.encoding.then).toEqual({ contentType: 'application/json' });
    expect(form.schema.properties.file).toEqual({ type: 'string', format: 'binary' });
    const json = cleaningJob.requestBody.content['application/json'];
    expect(json.schema).toMatchObject({ required: ['fileId'], properties: { then: { items: { $ref: '#/components/schemas/PipelineStepDto' } } } });
    const step = document.components.schemas.PipelineStepDto;
    expect(step.required).toEqual(['type']);
    expect(Object.keys(step.properties).sort()).toEqual(['delayMs', 'expiresInMs', 'maxAttempts', 'payload', 'priority', 'runAt', 'tags', 'timeoutMs', 'type']);
    expect(document.components.schemas.CleaningJobTaskView.properties).toHaveProperty('pipeline');

    // Webhooks: every route has a response schema.
    const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
    expect(schema('/v1/webhooks/endpoints', 'post', '201')).toEqual(ref('WebhookEndpointCreatedView'));
    expect(schema('/v1/webhooks/endpoints', 'get', '200')).toEqual(ref('WebhookEndpointListView'));
    expect(schema('/v1/webhooks/endpoints/{id}', 'get', '200')).toEqual(ref('WebhookEndpointView'));
    expect(schema('/v1/webhooks/endpoints/{id}', 'patch', '200')).toEqual(ref('WebhookEndpointView'));
    expect(document.paths['/v1/webhooks/endpoints/{id}'].delete.responses).toHaveProperty('204');
    expect(schema('/v1/webhooks/endpoints/{id}/rotate-secret', 'post', '200')).toEqual(ref('RotatedSecretView'));
    expect(schema('/v1/webhooks/endpoints/{id}/test', 'post', '202')).toEqual(ref('WebhookDeliveryView'));
    expect(schema('/v1/webhooks/endpoints/{id}/deliveries', 'get', '200')).toEqual(ref('WebhookDeliveryListView'));
    expect(schema('/v1/webhooks/endpoints/{id}/redeliver', 'post', '202')).toEqual(ref('RedeliveredView'));
    expect(schema('/v1/webhooks/deliveries/{id}', 'get', '200')).toEqual(ref('WebhookDeliveryDetailView'));
    expect(schema('/v1/webhooks/deliveries/{id}/redeliver', 'post', '202')).toEqual(ref('WebhookDeliveryView'));
    expect(document.components.schemas.WebhookDeliveryDetailView.properties).toHaveProperty('attemptLog');
    expect(document.components.schemas.WebhookEndpointView.properties).not.toHaveProperty('secret');

    // Exports too.
    expect(schema('/v1/exports', 'post', '202')).toEqual({ $ref: '#/components/schemas/ExportView' });
    expect(document.paths['/v1/exports'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Payload_export_create' });
    expect(schema('/v1/exports/{id}', 'get', '200')).toEqual({ $ref: '#/components/schemas/ExportView' });
    expect(schema('/v1/exports/{id}/cancel', 'post', '202')).toEqual({ $ref: '#/components/schemas/ExportCancelledView' });
    expect(document.paths['/v1/exports/{id}/download'].get.responses['200'].content).toHaveProperty('application/octet-stream');
    expect(document.paths['/v1/exports/{id}/download'].get).toMatchObject({ 'x-public': true, security: [] });
    expect(document.components.schemas.ExportView.properties).toMatchObject({
      downloadUrl: expect.any(Object),
      sha256: expect.any(Object),
      rows: expect.any(Object),
    });
    expect(document.components.schemas.Payload_export_create.properties.format.enum).toEqual(['csv', 'jsonl', 'json']);

    const ui = await fetch(`${stack.apiUrl}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger-ui');
  });
});
