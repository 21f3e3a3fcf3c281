// The web console's HTTP face: static files built from apps/console, mounted by the API app.
export * from './console';
export * from './console-files';
