'use strict';
/**
 * Step 4: the database. A configured one (DATABASE_URL / DB_HOST) must accept connections;
 * otherwise the launcher serves an embedded PostgreSQL (PGlite, scripts/embedded-postgres.js) of
 * its own, in its data dir.
 */
const path = require('node:path');
const { ROOT } = require('../lib/project-node');
const { LauncherError, intSetting, probeTcp, redactUrl, relativeToRoot, say } = require('./common');
const { startChild, waitUntil } = require('./supervisor');

/** Returns { env, description } for the apps. */
async function setUpDatabase(dataDir) {
  const configuredUrl = process.env.DATABASE_URL;
  if (configuredUrl || process.env.DB_HOST) {
    let host;
    let port;
    let description;
    if (configuredUrl) {
      let url;
      try {
        url = new URL(configuredUrl);
      } catch {
        throw new LauncherError('DATABASE_URL is not a valid URL');
      }
      host = url.hostname.replace(/^\[|\]$/g, '');
      port = Number(url.port || (url.protocol.startsWith('postgres') ? 5432 : 3306));
      description = redactUrl(configuredUrl);
    } else {
      const type = process.env.DB_TYPE || 'postgres';
      host = process.env.DB_HOST;
      port = Number(process.env.DB_PORT || (type === 'postgres' ? 5432 : 3306));
      description = `${type} at ${host}:${port}/${process.env.DB_DATABASE || ''} (DB_HOST)`;
    }
    // A clear message now beats a connection error from deep inside the migration run.
    if (!(await probeTcp(host, port, 3000))) {
      throw new LauncherError(`the database ${description} does not accept connections on ${host}:${port}`);
    }
    return { env: {}, description };
  }

  const port = intSetting('EMBEDDED_PG_PORT', 54329);
  const pgDataDir = path.join(dataDir, 'pglite');
  // Something already answers there, most likely another launcher's embedded database (one with
  // another DEV_DATA_DIR): our own server could not bind, and the readiness probe below would
  // happily talk to theirs. Refuse rather than share another launcher's data without a word.
  if (await probeTcp('127.0.0.1', port)) {
    throw new LauncherError(
      `port ${port} (embedded PostgreSQL) is already in use, probably by another dev launcher's embedded database; ` +
        'set EMBEDDED_PG_PORT to a free port, or DATABASE_URL to share a database on purpose',
    );
  }
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  say(`no DATABASE_URL: starting embedded PostgreSQL (PGlite) on 127.0.0.1:${port}, data in ${relativeToRoot(pgDataDir)}`);
  const child = startChild('postgres', 'service', process.execPath, [path.join(__dirname, '..', 'embedded-postgres.js'), '--exit-with-parent'], {
    // Its stdin stays open for as long as we live: if we are SIGKILLed it sees EOF and stops.
    stdin: 'pipe',
    match: 'embedded-postgres.js',
    env: {
      ...process.env,
      EMBEDDED_PG_DATA_DIR: pgDataDir,
      EMBEDDED_PG_HOST: '127.0.0.1',
      EMBEDDED_PG_PORT: String(port),
    },
  });
  // The first run initialises the cluster, which takes a few seconds.
  await waitUntil('embedded PostgreSQL', child, 120_000, async () => {
    if (!(await probeTcp('127.0.0.1', port))) return false;
    return pgSelectOne(url);
  });
  return {
    // PGlite runs one query at a time, so big pools only queue; small ones keep headroom under
    // the server's connection limit for psql and the like.
    env: { DATABASE_URL: url, DB_POOL_SIZE: process.env.DB_POOL_SIZE || '5' },
    description: `embedded PostgreSQL (PGlite) at ${url}, data in ${relativeToRoot(pgDataDir)}`,
  };
}

async function pgSelectOne(url) {
  const { Client } = require(require.resolve('pg', { paths: [ROOT] }));
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {}); // reported through the awaited calls below
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

module.exports = { setUpDatabase };
