#!/usr/bin/env node
'use strict';
/**
 * Webhook deliveries, in one run against a local receiver that answers at once:
 *   throughput  N ping deliveries queued behind a paused `webhooks` queue, then released:
 *               deliveries/s until the receiver has them all, against a baseline of bare signed
 *               POSTs (node:http, same concurrency, same bodies) to the same receiver;
 *   isolation   pings at a steady rate to 10 endpoints, all healthy, then with one of them
 *               answering in 5 s: the healthy endpoints' p99 delivery latency (event written →
 *               received) in both phases; the issue's bar is "moves by at most 20 %".
 * Usage: node bench/webhooks.js [--deliveries 3000] [--rate 100] [--seconds 10] [--db postgres,mysql] [--profile] [--keep-logs]
 *        --db: one dialect or a comma-separated list, run one after the other on a fresh stack each
 *        (default postgres), with a closing line comparing each to the first;
 *        --profile: a CPU profile of the worker during the throughput phase, summarised by origin;
 *        --keep-logs: keep the processes' logs (always kept when a run fails).
 * Needs `npm run build` first, Redis and the chosen database on 127.0.0.1.
 */
const { runMainOnProjectNode } = require('../scripts/lib/project-node');

const HEALTHY = 9;
const SLOW_MS = 5000;
/** The webhooks queue's default worker concurrency (see the webhooks worker). */
const CONCURRENCY = 50;

async function main() {
  const argv = process.argv.slice(2);
  const value = (name, fallback) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
  const dialects = value('--db', 'postgres').split(',');
  const unknown = dialects.filter((d) => d !== 'postgres' && d !== 'mysql');
  if (unknown.length) throw new Error(`--db takes postgres and/or mysql, not ${unknown.join(', ')}`);
  const results = [];
  for (const dialect of dialects) results.push({ dialect, ...(await benchDialect(dialect, argv, value)) });
  if (results.length > 1) {
    const [first] = results;
    for (const r of results)
      process.stdout.write(
        `${r.dialect}: ${round(r.rate)} deliveries/s (${round(r.rate / first.rate, 3)}× ${first.dialect}), ratio to bare POSTs ${round(r.throughputRatio, 3)}, isolation ratio ${round(r.isolationRatio, 3)}, worker CPU ${round(r.workerCpuPerDelivery, 3)} ms/delivery\n`,
      );
  }
}

const round = (value, digits = 2) => require('./lib/stats').round(value, digits);

/** Both phases on a fresh stack over `dialect`; returns the figures. */
async function benchDialect(dialect, argv, value) {
  const http = require('node:http');
  const { createHmac, randomBytes } = require('node:crypto');
  const { Queue } = require('bullmq');
  const { Run, snapshotDist, redisOptions, freePort, cpuMs } = require('./lib/infra');
  const { startStack, CPU } = require('./lib/stack');
  const { percentiles } = require('./lib/stats');
  const deliveries = Number(value('--deliveries', 3000));
  const rate = Number(value('--rate', 100));
  const seconds = Number(value('--seconds', 10));
  const log = (line) => process.stdout.write(`${line}\n`);
  const run = new Run({ log, keepLogs: argv.includes('--keep-logs') });

  /** The receiver: answers 200 at once, or after SLOW_MS on a path with /slow; records arrivals. */
  const arrivals = new Map();
  /** Deliveries received more than once (a retry after an answer that was lost counts too). */
  let repeats = 0;
  const receiver = http.createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const now = Date.now();
      const id = request.headers['webhook-id'];
      if (id && arrivals.has(id)) repeats += 1;
      if (id) arrivals.set(id, { at: now, path: request.url, timestamp: JSON.parse(Buffer.concat(chunks).toString()).timestamp });
      if (request.url.includes('/slow')) setTimeout(() => response.writeHead(200).end(), SLOW_MS);
      else response.writeHead(200).end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  run.defer('close the receiver', () => new Promise((resolve) => receiver.close(resolve)));
  const receiverUrl = (path) => `http://127.0.0.1:${receiver.address().port}${path}`;

  try {
    // BENCH_DIST: another build's dist directory (an A/B of two builds on one machine).
    await snapshotDist(run, process.env.BENCH_DIST || undefined);
    const stack = await startStack(run, { dialect, logLevel: 'warn', log });
    Object.assign(stack.env, {
      WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
      WEBHOOK_ALLOWED_PORTS: '*',
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_POLL_INTERVAL_MS: '50',
      WEBHOOK_ACTIVATION_DELAY_MS: '500',
      // The bench's own client opens a connection per request: the API's per-address cap would reset some.
      HTTP_MAX_CONNECTIONS_PER_ADDRESS: '0',
      ...(process.env.BENCH_DB_POOL ? { DB_POOL_SIZE: process.env.BENCH_DB_POOL } : {}),
      ...(process.env.BENCH_ENDPOINT_CONCURRENCY ? { WEBHOOK_ENDPOINT_CONCURRENCY: process.env.BENCH_ENDPOINT_CONCURRENCY } : {}),
    });
    // The stack's worker consumes the bench's task queue; this one delivers webhooks too.
    stack.env.WORKER_QUEUES = `${stack.env.WORKER_QUEUES},webhooks`;
    const api = await stack.startApi({ cpus: CPU.server });
    Object.assign(stack, { api: api.record, apiUrl: api.url });
    const profile = argv.includes('--profile')
      ? { port: await freePort(), file: require('node:path').join(require('node:os').tmpdir(), `webhooks-worker-${Date.now()}.cpuprofile`) }
      : undefined;
    const worker = await stack.startWorker({ concurrency: 10, cpus: CPU.server, profile });
    const profiler = (action) => profile && fetch(`http://127.0.0.1:${profile.port}/${action}`, { method: 'POST' });
    const call = async (method, path, body) => {
      const headers = body === undefined ? { authorization: stack.authHeaders.authorization } : stack.authHeaders;
      const response = await fetch(`${stack.apiUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      if (response.status >= 300) throw new Error(`${method} ${path} answered ${response.status}: ${await response.text()}`);
      return response.json();
    };
    const endpoint = (path) => call('POST', '/v1/webhooks/endpoints', { url: receiverUrl(path), events: ['task.completed'] });
    const pings = async (ids, count, parallel = 20) => {
      const made = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: parallel }, async () => {
          while (next < count) {
            const id = ids[next++ % ids.length];
            made.push((await call('POST', `/v1/webhooks/endpoints/${id}/test`)).eventId);
          }
        }),
      );
      return made;
    };
    const webhooksQueue = new Queue('webhooks', { connection: { ...redisOptions(), maxRetriesPerRequest: null }, prefix: stack.prefixes.conveyor });
    run.defer('close the webhooks queue', () => webhooksQueue.close());
    const waitAll = async (ids, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (!ids.every((id) => arrivals.has(id))) {
        if (Date.now() > deadline) throw new Error(`${ids.filter((id) => !arrivals.has(id)).length} of ${ids.length} deliveries missing`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };

    const healthy = [];
    for (let i = 0; i < HEALTHY + 1; i += 1) healthy.push((await endpoint(`/healthy/${i}`)).id);
    const slow = (await endpoint('/slow')).id;
    await new Promise((resolve) => setTimeout(resolve, 600));

    // Throughput: a backlog behind the paused queue, released at once.
    await webhooksQueue.pause();
    const backlog = await pings(healthy, deliveries);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the dispatcher queues them all
    const released = Date.now();
    const workerCpuBefore = cpuMs(worker.record.pid);
    await profiler('start');
    await webhooksQueue.resume();
    await waitAll(backlog, 300_000);
    // CPU time per delivery: a figure the machine's other load moves far less than wall-clock rates.
    const workerCpuPerDelivery = (cpuMs(worker.record.pid) - workerCpuBefore) / deliveries;
    await profiler('stop');
    if (profile) {
      const { busyMs, byOrigin } = require('./profile-summary').summarise(JSON.parse(require('node:fs').readFileSync(profile.file, 'utf8')));
      log(
        `worker profile (${profile.file}): busy ${busyMs} ms; ${byOrigin
          .slice(0, 6)
          .map((o) => `${o.origin} ${o.pctOfBusy} %`)
          .join(', ')}`,
      );
    }
    const last = Math.max(...backlog.map((id) => arrivals.get(id).at));
    const conveyorRate = deliveries / ((last - released) / 1000);
    // When 99 % and all had arrived: a delivery stuck until its lease ran out shows as a gap.
    const arrived = percentiles(backlog.map((id) => arrivals.get(id).at - released));

    // Baseline: the same number of signed POSTs of the same size, CONCURRENCY at a time.
    const body = JSON.stringify({ id: 'msg_x', type: 'ping', timestamp: new Date().toISOString(), data: { endpointId: healthy[0], message: 'ping' } });
    const key = randomBytes(32);
    const agent = new http.Agent({ keepAlive: false });
    const post = (n) =>
      new Promise((resolve, reject) => {
        const id = `base_${n}`;
        const timestamp = Math.floor(Date.now() / 1000);
        const signature = `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
        const request = http.request(
          receiverUrl('/baseline'),
          {
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature },
          },
          (response) => response.resume().on('end', resolve),
        );
        request.on('error', reject);
        request.end(body);
      });
    const baselineStart = Date.now();
    let sent = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (sent < deliveries) await post(sent++);
      }),
    );
    const baselineRate = deliveries / ((Date.now() - baselineStart) / 1000);
    log(
      `throughput (${dialect}): ${round(conveyorRate)} deliveries/s vs bare signed POSTs ${round(baselineRate)}/s → ratio ${round(conveyorRate / baselineRate, 3)} (${deliveries} deliveries, ${repeats} received twice; 99 % in ${round(arrived.p99 / 1000)} s, all in ${round(arrived.max / 1000)} s); worker CPU ${round(workerCpuPerDelivery, 3)} ms/delivery`,
    );

    // Isolation: the same steady rate to the healthy endpoints, without and with a slow one.
    const steady = async (ids) => {
      const made = [];
      const start = Date.now();
      for (let i = 0; i < rate * seconds; i += 1) {
        const due = start + (i * 1000) / rate;
        if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
        // A ping the API refused (e.g. 503 on a loaded machine) wrote no event: counted, not waited for.
        made.push(
          call('POST', `/v1/webhooks/endpoints/${ids[i % ids.length]}/test`).then(
            (r) => ({ eventId: r.eventId, endpoint: ids[i % ids.length] }),
            () => null,
          ),
        );
      }
      const events = (await Promise.all(made)).filter((e) => e !== null);
      refused += made.length - events.length;
      return events;
    };
    let refused = 0;
    const latencies = (events) =>
      percentiles(events.filter((e) => e.endpoint !== slow).map(({ eventId }) => arrivals.get(eventId).at - Date.parse(arrivals.get(eventId).timestamp)));
    const alone = await steady(healthy.slice(0, HEALTHY));
    await waitAll(
      alone.map((e) => e.eventId),
      60_000,
    );
    const besideSlow = await steady([...healthy.slice(0, HEALTHY), slow]);
    await waitAll(
      besideSlow.filter((e) => e.endpoint !== slow).map((e) => e.eventId),
      60_000,
    );
    const [a, b] = [latencies(alone), latencies(besideSlow)];
    log(
      `isolation (${dialect}): healthy p99 ${round(a.p99)} ms alone, ${round(b.p99)} ms beside one endpoint answering in ${SLOW_MS} ms → ratio ${round(b.p99 / a.p99, 3)} (p50 ${round(a.p50)} / ${round(b.p50)} ms; ${rate}/s for ${seconds} s${refused ? `; ${refused} pings refused by the API` : ''})`,
    );
    return { rate: conveyorRate, throughputRatio: conveyorRate / baselineRate, isolationRatio: b.p99 / a.p99, workerCpuPerDelivery };
  } catch (error) {
    run.failed = true;
    throw error;
  } finally {
    await run.cleanup();
  }
}

runMainOnProjectNode(main);
