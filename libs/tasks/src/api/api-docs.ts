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
        details: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
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
  const document = SwaggerModule.createDocument(app, config);
  const schemas = (document.components!.schemas ??= {}) as Record<string, Schema>;
  schemas.ErrorBody = ERROR_BODY;

  const payloadRefs: Schema[] = [];
  for (const definition of app.get(TaskTypeRegistry).all()) {
    const { definitions, $schema: _draft, ...schema } = payloadJsonSchema(definition) as Schema & { definitions?: Record<string, Schema> };
    const name = `Payload_${definition.type.replace(/[^A-Za-z0-9]/g, '_')}`;
    schemas[name] = rewriteRefs({ ...schema, title: definition.type, description: definition.description }) as Schema;
    for (const [nested, nestedSchema] of Object.entries(definitions ?? {})) schemas[nested] ??= rewriteRefs(nestedSchema) as Schema;
    payloadRefs.push({ $ref: `#/components/schemas/${name}` });
  }
  const createTask = schemas.CreateTaskDto as { properties?: Record<string, Schema> } | undefined;
  if (createTask?.properties?.payload) {
    createTask.properties.payload = { ...createTask.properties.payload, oneOf: payloadRefs, description: 'The payload of the chosen task type' };
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

/** Serves Swagger UI at /docs and the document at /docs/json. */
export function setupApiDocs(app: INestApplication): void {
  SwaggerModule.setup('docs', app, () => buildApiDocument(app), { jsonDocumentUrl: 'docs/json', yamlDocumentUrl: 'docs/yaml' });
}
