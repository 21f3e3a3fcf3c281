import { ConfigValidationError, describeProblems, loadAppConfig, loadEnvFile, maskValue, suspiciousKeys } from '@conveyor/config';

/**
 * `npm run validate-config`: checks the environment (and .env) without connecting to anything;
 * names each bad key with its value (secrets masked) and warns about likely misspelt keys.
 */
try {
  loadEnvFile();
  for (const [name, key] of suspiciousKeys(process.env)) {
    console.warn(`warning: ${name} is not a Conveyor setting; did you mean ${key}? (it is ignored)`);
  }
  const config = loadAppConfig();
  const redact = (url?: string) => (url ? maskValue('URL', url) : url);
  console.log('configuration is valid');
  console.log(
    JSON.stringify(
      {
        env: config.env,
        port: config.port,
        database: { type: config.database.type, url: redact(config.database.url), host: config.database.host, database: config.database.database },
        redis: config.redis.clusterNodes
          ? { cluster: config.redis.clusterNodes }
          : config.redis.sentinel
            ? { sentinels: config.redis.sentinel.nodes, masterName: config.redis.sentinel.name }
            : { url: redact(config.redis.url), host: config.redis.host, port: config.redis.port },
        queuePrefix: config.queuePrefix,
        worker: { ...config.worker },
      },
      null,
      2,
    ),
  );
} catch (error) {
  console.error(error instanceof ConfigValidationError ? describeProblems(error.problems, process.env) : error);
  process.exit(1);
}
