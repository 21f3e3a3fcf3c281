// The file-cleaning domain: its contract and the streaming engine (`cleaning/`).
// Modules: `@conveyor/file-cleaning/api` and `@conveyor/file-cleaning/worker`.
export * from './cleaning';
export * from './file-cleaning.contract';
