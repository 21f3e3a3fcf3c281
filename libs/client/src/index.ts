// The client's public face: no Nest, no server code (the Nest module is `@conveyor/client/nest`).
export * from './conveyor-client.js';
export * from './errors.js';
export * from './files-api.js';
export * from './flows-api.js';
export * from './queues-api.js';
export * from './schedules-api.js';
export * from './tasks-api.js';
export * from './task-types.gen.js';
export * from './types.js';
