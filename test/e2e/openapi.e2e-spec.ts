import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { http, startStack, type Stack } from './support/stack';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');

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
    expect(document.components.schemas.CreateTaskDto.properties.payload.anyOf).toEqual(
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

    // Conventions for generated clients (api-docs.ts): readable, unique operation ids; a schema
    // for every answer with a body; the key as a plain bearer token.
    const operations = Object.entries(document.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({ route: `${method.toUpperCase()} ${path}`, operation })),
    );
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(ids.filter((id) => !/^[a-z][a-zA-Z]+$/.test(id) || /Controller/.test(id))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    const idOf = (route: string) => operations.find((o) => o.route === route)?.operation.operationId;
    expect({
      enqueue: idOf('POST /v1/tasks'),
      batch: idOf('POST /v1/tasks/batch'),
      get: idOf('GET /v1/tasks/{id}'),
      list: idOf('GET /v1/tasks'),
      cancel: idOf('POST /v1/tasks/{id}/cancel'),
      retry: idOf('POST /v1/tasks/{id}/retry'),
      events: idOf('GET /v1/tasks/{id}/events'),
    }).toEqual({
      enqueue: 'enqueueTask',
      batch: 'enqueueTasks',
      get: 'getTask',
      list: 'listTasks',
      cancel: 'cancelTask',
      retry: 'retryTask',
      events: 'streamTaskEvents',
    });
    const withoutSchema = operations.flatMap(({ route, operation }) =>
      Object.entries(operation.responses as Record<string, any>)
        .filter(([status]) => /^2/.test(status) && status !== '204')
        .filter(([, response]) => !Object.values(response.content ?? {}).some((media: any) => media.schema))
        .map(([status]) => `${route} ${status}`),
    );
    expect(withoutSchema).toEqual([]);
    expect(document.components.securitySchemes.bearer).not.toHaveProperty('bearerFormat');
    expect(schema('/v1/tasks', 'post', '202')).toEqual(ref('TaskView'));
    expect(schema('/v1/tasks', 'get', '200')).toEqual(ref('TaskListView'));
    expect(schema('/v1/tasks/{id}', 'get', '200')).toEqual(ref('TaskDetailView'));
    expect(document.paths['/v1/tasks/{id}/events'].get.responses['200'].content).toHaveProperty('text/event-stream');
    expect(document.paths['/v1/files'].post.requestBody.content['multipart/form-data'].schema).toEqual(ref('FileUploadForm'));
    expect(document.components.schemas.TaskView.required).toEqual(expect.arrayContaining(['id', 'type', 'status', 'payload', 'createdAt']));
    expect(document.components.schemas.TaskView.properties.id.example).toBeDefined();
    expect(document.components.schemas.Payload_system_sleep['x-task-type']).toBe('system.sleep');
    // System-only types are not offered to clients.
    expect(document.components.schemas).not.toHaveProperty('Payload_system_reconcile');

    const ui = await fetch(`${stack.apiUrl}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger-ui');
  });

  it('generates a TypeScript client with a standard generator that compiles', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'conveyor-openapi-client-'));
    try {
      const response = await http(stack.apiUrl, 'GET', '/docs/json', undefined, { authorization: '' });
      await writeFile(join(dir, 'openapi.json'), JSON.stringify(response.body));
      const generator = join(ROOT, 'node_modules', '@hey-api', 'openapi-ts', 'bin', 'run.js');
      await run(process.execPath, [generator, '-i', join(dir, 'openapi.json'), '-o', join(dir, 'generated')], {
        cwd: dir,
        env: { ...process.env, CI: 'true' },
      });
      // Code a caller would write against it: typed bodies, typed answers.
      await writeFile(
        join(dir, 'use.ts'),
        [
          "import { client } from './generated/client.gen.js';",
          "import { enqueueTask, getTask, listTasks } from './generated/index.js';",
          "client.setConfig({ baseUrl: 'http://127.0.0.1:3000', auth: () => 'cvk_example' });",
          'export async function example(): Promise<string[]> {',
          "  const created = await enqueueTask({ body: { type: 'system.sleep', payload: { ms: 10 } }, throwOnError: true });",
          '  const task = await getTask({ path: { id: created.data.id }, throwOnError: true });',
          "  const page = await listTasks({ query: { status: 'failed', limit: 10 }, throwOnError: true });",
          '  return [task.data.status, ...task.data.children.map((child) => child.id), ...page.data.tasks.map((t) => t.type)];',
          '}',
        ].join('\n'),
      );
      const compilerOptions = {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        module: 'nodenext',
        moduleResolution: 'nodenext',
        lib: ['ES2022', 'DOM'],
        types: [],
      };
      await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['generated/**/*.ts', 'use.ts'] }));
      const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      const compiled = await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')]).then(
        () => '',
        (error: { stdout?: string }) => error.stdout ?? String(error),
      );
      expect(compiled).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
