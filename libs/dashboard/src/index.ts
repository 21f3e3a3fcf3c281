export * from './admin-basic-auth';
export * from './dashboard-csp';
export * from './queue-dashboard';
