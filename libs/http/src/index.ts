export * from './api-error';
export * from './api-exception.filter';
export * from './validation';
export * from './tenant';
export * from './scopes';
export * from './bounded-validation.pipe';
export * from './http-server-errors';
export * from './unread-body';
