'use strict';
/** Versions and machine facts recorded with every result. */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ROOT, adminQuery, redisOptions, POSTGRES_ADMIN_URL, MYSQL_ADMIN_URL } = require('./infra');

const PACKAGES = [
  '@nestjs/core',
  '@nestjs/platform-fastify',
  'fastify',
  'bullmq',
  'ioredis',
  'typeorm',
  'pg',
  'mysql2',
  'graphile-worker',
  'nestjs-pino',
  'autocannon',
  'vega',
  'vega-lite',
];

function packageVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

function git(...args) {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

async function redisVersion() {
  const { Redis } = require('ioredis');
  const redis = new Redis({ ...redisOptions(), lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const info = await redis.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? null;
  } catch {
    return null;
  } finally {
    redis.disconnect();
  }
}

async function databaseVersion(dialect) {
  try {
    const rows = await adminQuery(dialect, dialect === 'postgres' ? POSTGRES_ADMIN_URL : MYSQL_ADMIN_URL, 'SELECT version() AS v');
    return String(rows[0].v);
  } catch {
    return null;
  }
}

function cpuModel() {
  const model = os.cpus()[0]?.model ?? 'unknown';
  try {
    const mhz = /cpu MHz\s*:\s*([\d.]+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
    return mhz ? `${model} @ ${Math.round(Number(mhz))} MHz` : model;
  } catch {
    return model;
  }
}

async function environment(dialect) {
  return {
    node: process.version,
    redis: await redisVersion(),
    database: { dialect, version: await databaseVersion(dialect) },
    packages: Object.fromEntries(PACKAGES.map((name) => [name, packageVersion(name)])),
    conveyor: JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version,
    git: { commit: git('rev-parse', '--short', 'HEAD'), dirty: (git('status', '--porcelain', '--untracked-files=no') ?? '') !== '' },
    machine: {
      cores: os.cpus().length,
      model: cpuModel(),
      memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      loadAverageAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
    },
  };
}

module.exports = { environment };
