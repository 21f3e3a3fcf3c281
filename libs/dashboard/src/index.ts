export * from './admin-basic-auth';
export * from './dashboard-csp';
export * from './dashboard-errors';
export * from './queue-dashboard';
