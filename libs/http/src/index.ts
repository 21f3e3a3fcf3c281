export * from './api-error';
export * from './api-exception.filter';
export * from './validation';
export * from './tenant';
export * from './scopes';
