'use strict';
/**
 * End-to-end latency at a steady rate: an open-loop generator sends `POST /v1/tasks` (one task
 * each) at a fixed rate, whatever the answers do, and a BullMQ QueueEvents subscriber notes when
 * each job completed. Latency = completion time - the request's *scheduled* send time (so a
 * stalled server cannot hide queued-up requests: no coordinated omission). The completion time
 * is the id of the `completed` entry in the queue's event stream, i.e. Redis' clock at the
 * moment the worker acknowledged the job (Conveyor's worker does that only after the ledger
 * write). For Conveyor the ledger's own `finished_at - created_at` is reported as well.
 */
const { QueueEvents } = require('bullmq');
const { QUEUE } = require('./baseline-job');
const { percentiles, round } = require('./stats');
const { redisOptions, sleep } = require('./infra');

const SYSTEMS = ['conveyor', 'baseline'];

async function openLoop(url, headers, rate, seconds) {
  const body = JSON.stringify({ type: 'system.noop', payload: {} });
  const total = Math.max(1, Math.round(rate * seconds));
  const origin = performance.timeOrigin;
  const start = performance.now() + 20;
  const sent = [];
  const inFlight = new Set();
  let errors = 0;
  let next = 0;
  while (next < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
    for (; next < due; next += 1) {
      const scheduled = origin + start + (next * 1000) / rate;
      const request = fetch(url, { method: 'POST', headers, body })
        .then(async (response) => {
          const answered = origin + performance.now();
          const json = await response.json();
          if (response.status !== 202 || !json.id) throw new Error(`answered ${response.status}`);
          sent.push({ id: json.id, scheduled, answered });
        })
        .catch(() => (errors += 1))
        .finally(() => inFlight.delete(request));
      inFlight.add(request);
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
  return { sent, errors, total };
}

async function measure(ctx, system, rate, seconds) {
  const { stack } = ctx;
  const events = new QueueEvents(QUEUE, { connection: { ...redisOptions(), maxRetriesPerRequest: null }, prefix: stack.prefixes[system], autorun: true });
  await events.waitUntilReady();
  const completed = new Map();
  events.on('completed', ({ jobId }, eventId) => {
    const ms = Number(String(eventId ?? '').split('-')[0]);
    completed.set(jobId, Number.isFinite(ms) && ms > 0 ? ms : Date.now());
  });
  try {
    const { sent, errors, total } = await openLoop(`${stack.urlFor(system)}/v1/tasks`, stack.headersFor(system), rate, seconds);
    const deadline = Date.now() + 30_000;
    while (sent.some((s) => !completed.has(s.id)) && Date.now() < deadline) await sleep(20);
    const missing = sent.filter((s) => !completed.has(s.id)).length;
    const e2e = sent.filter((s) => completed.has(s.id)).map((s) => completed.get(s.id) - s.scheduled);
    const ack = sent.map((s) => s.answered - s.scheduled);
    const result = {
      rate,
      seconds,
      requested: total,
      accepted: sent.length,
      errors,
      missing,
      endToEndMs: roundAll(percentiles(e2e, [0.5, 0.95, 0.99])),
      enqueueAckMs: roundAll(percentiles(ack, [0.5, 0.95, 0.99])),
    };
    if (system === 'conveyor' && sent.length > 0) {
      const { total: ledgerTotal, stages } = await ledgerLatencies(stack, sent, completed);
      result.ledgerMs = roundAll(percentiles(ledgerTotal, [0.5, 0.95, 0.99]));
      result.stagesMs = Object.fromEntries(Object.entries(stages).map(([stage, values]) => [stage, roundAll(percentiles(values, [0.5, 0.99]))]));
    }
    return result;
  } finally {
    await events.close();
  }
}

/**
 * finished_at - created_at of the ledger rows (both set by Conveyor: API clock, worker clock),
 * and where each task's time went, stage by stage (one machine, one clock): the request waiting
 * for the API until its row was made (`intake`: scheduled send -> created_at), the row's INSERT,
 * the job's add and its wait for a worker (`toStart`: created_at -> started_at), the run
 * (`run`: started_at -> finished_at), the acknowledgement (`ack`: finished_at -> the completed
 * event, Redis' clock), and the answer after the row was made (`answer`: created_at -> answered).
 */
async function ledgerLatencies(stack, sent, completed) {
  const total = [];
  const stages = { intake: [], toStart: [], run: [], ack: [], answer: [] };
  const byId = new Map(sent.map((s) => [s.id, s]));
  const ids = sent.map((s) => s.id);
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000);
    const placeholders = stack.db.dialect === 'postgres' ? chunk.map((_, j) => `$${j + 1}`).join(', ') : chunk.map(() => '?').join(', ');
    const rows = await stack.db.query(`SELECT id, created_at, started_at, finished_at FROM tasks WHERE id IN (${placeholders})`, chunk);
    for (const row of rows) {
      if (!row.finished_at) continue;
      const [created, started, finished] = [row.created_at, row.started_at, row.finished_at].map((t) => new Date(t).getTime());
      const request = byId.get(row.id);
      total.push(finished - created);
      stages.intake.push(created - request.scheduled);
      stages.toStart.push(started - created);
      stages.run.push(finished - started);
      if (completed.has(row.id)) stages.ack.push(completed.get(row.id) - finished);
      stages.answer.push(request.answered - created);
    }
  }
  return { total, stages };
}

const roundAll = (stats) => Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, round(v, 2)]));

async function latencyPhase(ctx, { rate, basis, concurrency }) {
  const { stack, mode, log } = ctx;
  await Promise.all(SYSTEMS.map((system) => stack.queues[system].resume()));
  // Unpinned: the API, the worker, Redis, the database and the generator all run at once here;
  // pinning them to two cores would measure contention we chose, not the system's latency.
  const workers = [await stack.startWorker({ concurrency, name: 'latency-worker' }), await stack.startRawWorker({ concurrency, name: 'latency-raw-worker' })];
  try {
    if (mode.latencyWarmupSeconds > 0) for (const system of SYSTEMS) await measure(ctx, system, rate, mode.latencyWarmupSeconds);
    const runs = { conveyor: [], baseline: [] };
    for (let round_ = 0; round_ < mode.latencyReps; round_ += 1) {
      for (const system of SYSTEMS) {
        const result = await measure(ctx, system, rate, mode.latencySeconds);
        runs[system].push(result);
        log(
          `  latency ${system.padEnd(8)} round ${round_ + 1} at ${rate}/s: p50 ${result.endToEndMs.p50} ms, p95 ${result.endToEndMs.p95} ms, p99 ${result.endToEndMs.p99} ms (${result.accepted}/${result.requested} accepted, ${result.missing} not completed)` +
            (result.stagesMs
              ? `; stages p50/p99 ms: ${Object.entries(result.stagesMs)
                  .map(([stage, v]) => `${stage} ${v.p50}/${v.p99}`)
                  .join(', ')}`
              : ''),
        );
      }
    }
    const pick = (system) => {
      // The round with the median p99 represents the system; every round is kept in `runs`.
      const sorted = [...runs[system]].sort((a, b) => a.endToEndMs.p99 - b.endToEndMs.p99);
      return sorted[Math.floor((sorted.length - 1) / 2)];
    };
    return {
      rate,
      basis,
      concurrency,
      seconds: mode.latencySeconds,
      rounds: mode.latencyReps,
      pinning: 'none',
      runs,
      conveyor: pick('conveyor'),
      baseline: pick('baseline'),
    };
  } finally {
    await Promise.all(workers.map((w) => w.record.stop()));
  }
}

module.exports = { latencyPhase };
