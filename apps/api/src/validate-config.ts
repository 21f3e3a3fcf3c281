import { ConfigValidationError, loadAppConfig, loadEnvFile } from '@conveyor/config';

/** `npm run validate-config`: checks the environment (and .env) without connecting to anything. */
try {
  loadEnvFile();
  const config = loadAppConfig();
  const redact = (url?: string) => url?.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
  console.log('configuration is valid');
  console.log(
    JSON.stringify(
      {
        env: config.env,
        port: config.port,
        database: { type: config.database.type, url: redact(config.database.url), host: config.database.host, database: config.database.database },
        redis: { url: redact(config.redis.url), host: config.redis.host, port: config.redis.port },
        queuePrefix: config.queuePrefix,
        worker: { ...config.worker },
      },
      null,
      2,
    ),
  );
} catch (error) {
  console.error(error instanceof ConfigValidationError ? error.message : error);
  process.exit(1);
}
