#!/usr/bin/env node
'use strict';
/**
 * Quick whole-path measurement for the spine: starts the built API and worker as processes
 * (own database, own queue prefix), reports their idle RSS, then pushes N `system.noop`
 * tasks through POST /v1/tasks/batch and times until the worker has completed them all.
 * Usage: node bench/spine-throughput.js [--tasks 20000] [--concurrency 50] [--db postgres|mysql]
 * (The full side-by-side benchmark against raw BullMQ is a separate script.)
 */
const { spawn } = require('node:child_process');
const { readFileSync } = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const TOTAL = Number(args.tasks ?? 20000);
const CONCURRENCY = Number(args.concurrency ?? 50);
const DIALECT = args.db ?? 'postgres';
const BATCH = 1000;

const freePort = () =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

async function admin(sql) {
  if (DIALECT === 'postgres') {
    const { Client } = require('pg');
    const client = new Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    await client.connect();
    await client.query(sql).finally(() => client.end());
  } else {
    const mysql = require('mysql2/promise');
    const connection = await mysql.createConnection({ uri: 'mysql://root@127.0.0.1:3306/test' });
    await connection.query(sql).finally(() => connection.end());
  }
}

async function deleteKeys(pattern) {
  const { Redis } = require('ioredis');
  const redis = new Redis('redis://127.0.0.1:6379');
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

function start(entry, env) {
  const child = spawn(process.execPath, [path.join(ROOT, entry)], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  return child;
}

async function waitReady(url) {
  for (let i = 0; i < 300; i += 1) {
    const ok = await fetch(url).then((r) => r.ok).catch(() => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`not ready: ${url}`);
}

async function completedCount(workerUrl) {
  const text = await (await fetch(`${workerUrl}/metrics`)).text();
  const match = /conveyor_tasks_completed_total\{type="system.noop",queue="system"\} (\d+)/.exec(text);
  return match ? Number(match[1]) : 0;
}

async function main() {
  const name = `conveyor_bench_${Date.now().toString(36)}`;
  await admin(DIALECT === 'postgres' ? `CREATE DATABASE "${name}"` : `CREATE DATABASE \`${name}\``);
  const [apiPort, workerPort] = [await freePort(), await freePort()];
  const env = {
    DATABASE_URL: DIALECT === 'postgres' ? `postgres://postgres@127.0.0.1:5432/${name}` : `mysql://root@127.0.0.1:3306/${name}`,
    REDIS_URL: 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: name,
    PORT: String(apiPort),
    WORKER_HEALTH_PORT: String(workerPort),
    WORKER_CONCURRENCY: String(CONCURRENCY),
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    DB_MIGRATIONS_RUN: 'true',
  };
  const api = start('dist/apps/api/apps/api/src/main.js', env);
  await waitReady(`http://127.0.0.1:${apiPort}/health/ready`);
  const worker = start('dist/apps/worker/apps/worker/src/main.js', env);
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  try {
    await waitReady(`${workerUrl}/health/ready`);
    await sleep(2000);
    const idle = { apiRssMb: rssMb(api.pid), workerRssMb: rssMb(worker.pid) };

    const body = JSON.stringify({ tasks: Array.from({ length: BATCH }, () => ({ type: 'system.noop', payload: {} })) });
    const started = Date.now();
    let sent = 0;
    const senders = Array.from({ length: 4 }, async () => {
      while (sent < TOTAL) {
        sent += BATCH;
        const response = await fetch(`http://127.0.0.1:${apiPort}/v1/tasks/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        if (response.status !== 202) throw new Error(`batch answered ${response.status}: ${await response.text()}`);
      }
    });
    await Promise.all(senders);
    const enqueued = Date.now();
    let done = 0;
    while ((done = await completedCount(workerUrl)) < sent) await sleep(100);
    const finished = Date.now();
    const result = {
      db: DIALECT,
      tasks: sent,
      workerConcurrency: CONCURRENCY,
      enqueuePerSecond: Math.round(sent / ((enqueued - started) / 1000)),
      endToEndPerSecond: Math.round(sent / ((finished - started) / 1000)),
      seconds: (finished - started) / 1000,
      ...idle,
      loadedRssMb: { api: rssMb(api.pid), worker: rssMb(worker.pid) },
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    api.kill('SIGTERM');
    worker.kill('SIGTERM');
    await sleep(1500);
    await admin(DIALECT === 'postgres' ? `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)` : `DROP DATABASE IF EXISTS \`${name}\``);
    await deleteKeys(`${name}:*`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
