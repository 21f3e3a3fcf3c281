// The exports domain: its contract, the encoders and the row sources.
// Modules: `@conveyor/exports/api` and `@conveyor/exports/worker`.
export * from './download-link';
export * from './encoding/export-stream';
export * from './encoding/row-encoder';
export * from './exports.contract';
export * from './source/cleaned-file';
export * from './source/export-source';
export * from './source/file-rows.source';
export * from './source/task-rows.source';
