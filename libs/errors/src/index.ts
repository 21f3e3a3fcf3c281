// Errors shared by every layer, with no framework dependency.
export * from './domain-error';
