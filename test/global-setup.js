'use strict';
/**
 * Runs once before the integration and e2e tiers: refuses to start without the three real
 * services (with a hint how to start them) and builds the apps for the e2e tier.
 */
const net = require('node:net');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const SERVICES = [
  ['Redis', process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'],
  ['PostgreSQL', process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'],
  ['MariaDB', process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test'],
];

function reachable(url) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    socket.setTimeout(2000);
    socket.once('connect', () => resolve(socket.end() && true));
    socket.once('timeout', () => resolve(socket.destroy() && false));
    socket.once('error', () => resolve(false));
  });
}

module.exports = async function globalSetup(_globalConfig, projectConfig) {
  const missing = [];
  for (const [name, url] of SERVICES) if (!(await reachable(url))) missing.push(`${name} at ${url}`);
  if (missing.length > 0) {
    throw new Error(`Tests need real services; not reachable: ${missing.join(', ')}. Run \`npm run services\` to start them.`);
  }
  const project = projectConfig.displayName?.name ?? projectConfig.displayName;
  if (project === 'e2e' && process.env.TEST_SKIP_BUILD !== '1') {
    execFileSync(process.execPath, [path.join(__dirname, '..', 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js'), 'build', 'api'], {
      stdio: 'inherit',
      cwd: path.join(__dirname, '..'),
    });
    execFileSync(process.execPath, [path.join(__dirname, '..', 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js'), 'build', 'worker'], {
      stdio: 'inherit',
      cwd: path.join(__dirname, '..'),
    });
    // The web console the API serves at /console (the browser tests drive the built one).
    execFileSync(
      process.execPath,
      [path.join(__dirname, '..', 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'apps/console/vite.config.mts'],
      {
        stdio: 'inherit',
        cwd: path.join(__dirname, '..'),
      },
    );
  }
};
