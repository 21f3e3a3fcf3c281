import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { payloadJsonSchema } from '../contracts/payload-schema';
import { TaskTypeRegistry } from '../contracts/task-type.registry';

type Schema = Record<string, unknown>;

const ERROR_RESPONSES: Record<string, string> = {
  '400': 'Invalid request (VALIDATION_FAILED, UNKNOWN_TASK_TYPE, INVALID_JSON, …)',
  '401': 'Missing or invalid API key (UNAUTHENTICATED)',
  '403': 'The key lacks a scope (FORBIDDEN)',
  '404': 'Not found in the caller’s tenant',
  '413': 'Body or payload too large (PAYLOAD_TOO_LARGE, JSON_LIMIT_EXCEEDED: too many keys, items or values)',
  '429': 'Rate limit reached (RATE_LIMITED) or too many open event streams (TOO_MANY_STREAMS); see Retry-After',
  '503': 'Queue or database unavailable (QUEUE_UNAVAILABLE); nothing was accepted',
};

const ERROR_BODY: Schema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', example: 'VALIDATION_FAILED' },
        message: { type: 'string' },
        details: {
          type: 'array',
          items: { type: 'object', required: ['message'], properties: { field: { type: 'string' }, message: { type: 'string' }, code: { type: 'string' } } },
        },
        requestId: { type: 'string' },
      },
    },
  },
};

function rewriteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) =>
        key === '$ref' && typeof value === 'string' ? [key, value.replace('#/definitions/', '#/components/schemas/')] : [key, rewriteRefs(value)],
      ),
    );
  }
  return node;
}

/**
 * Route conventions, so that generated clients read well (the e2e test checks them):
 * - every route names itself with `@ApiOperation({ operationId })`: a camelCase verb + noun
 *   (`enqueueTask`, `listTasks`, `pauseQueue`), unique; a route without one gets
 *   `<method><Resource>` from its controller, which is rarely what a caller wants to type;
 * - every 2xx answer has a schema: `@ApiResponse({ status, type: SomeView })` with the view a
 *   class in a `*.dto.ts` file (the Swagger plugin reads its fields and comments), and the
 *   function that builds the JSON typed by that class so the two cannot drift;
 * - non-JSON answers say their media type (`text/event-stream`, `application/octet-stream`),
 *   uploads `@ApiConsumes('multipart/form-data')` with an `@ApiBody` form class;
 * - errors are added here for every /v1 route (ErrorBody); list a route's own codes in
 *   `@ApiResponse({ status: 409, description: 'CODE: why' })`.
 */
const operationIdOf = (controllerKey: string, methodKey: string) => `${methodKey === 'index' ? 'get' : methodKey}${controllerKey.replace(/Controller$/, '')}`;

/**
 * The OpenAPI document: routes from the controllers (the Swagger compiler plugin reads the
 * DTOs' class-validator rules), the bearer scheme, the error body on every operation, and one
 * payload schema per registered task type, derived from the same contracts the API enforces.
 */
export function buildApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Conveyor')
    .setDescription('Background tasks: enqueue typed tasks, follow them, cancel and retry them. Every /v1 route needs `Authorization: Bearer <api key>`.')
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key (cvk_…) or the bootstrap admin key' }, 'bearer')
    .build();
  const document = SwaggerModule.createDocument(app, config, { operationIdFactory: operationIdOf });
  // An API key is an opaque bearer token, not a JWT (Nest's default bearerFormat).
  delete (document.components!.securitySchemes!.bearer as { bearerFormat?: string }).bearerFormat;
  const schemas = (document.components!.schemas ??= {}) as Record<string, Schema>;
  schemas.ErrorBody = ERROR_BODY;

  // One schema per type a tenant may name (`x-task-type` says which); system-only types are left out.
  const payloadRefs: Schema[] = [];
  for (const definition of app
    .get(TaskTypeRegistry)
    .all()
    .filter((type) => !type.systemOnly)) {
    const { definitions, $schema: _draft, ...schema } = payloadJsonSchema(definition) as Schema & { definitions?: Record<string, Schema> };
    const name = payloadSchemaName(definition.type);
    schemas[name] = rewriteRefs({ ...schema, title: definition.type, description: definition.description, 'x-task-type': definition.type }) as Schema;
    for (const [nested, nestedSchema] of Object.entries(definitions ?? {})) schemas[nested] ??= rewriteRefs(nestedSchema) as Schema;
    payloadRefs.push({ $ref: `#/components/schemas/${name}` });
  }
  // `anyOf`, not `oneOf`: several types share a payload shape (`{}` fits system.noop and others); the
  // type's own schema (x-task-type) is the exact rule for it.
  for (const dto of ['CreateTaskDto', 'FlowNodeDto']) {
    const properties = (schemas[dto] as { properties?: Record<string, Schema> } | undefined)?.properties;
    if (properties?.payload)
      properties.payload = { type: 'object', anyOf: payloadRefs, description: 'The payload of the chosen task type (see its Payload_* schema)' };
  }

  for (const [path, item] of Object.entries(document.paths)) {
    for (const operation of Object.values(item) as Array<{ responses?: Record<string, unknown>; security?: unknown; 'x-public'?: boolean }>) {
      if (!operation || typeof operation !== 'object' || !('responses' in operation)) continue;
      // A /v1 route is keyed unless it says otherwise (a signed download link is its own credential).
      const isPublic = !path.startsWith('/v1/') || operation['x-public'] === true;
      operation.security = isPublic ? [] : [{ bearer: [] }];
      for (const [status, description] of Object.entries(ERROR_RESPONSES)) {
        if (isPublic && status !== '503') continue;
        operation.responses![status] ??= { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } } };
      }
    }
  }
  return document;
}

/** The component name of a task type's payload schema, e.g. `Payload_system_sleep`. */
export const payloadSchemaName = (type: string) => `Payload_${type.replace(/[^A-Za-z0-9]/g, '_')}`;

/** Serves Swagger UI at /docs and the document at /docs/json. */
export function setupApiDocs(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildApiDocument(app), { jsonDocumentUrl: 'docs/json', yamlDocumentUrl: 'docs/yaml' });
}
