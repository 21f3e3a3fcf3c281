'use strict';
/**
 * Idle memory: the resident set (VmRSS, from /proc) of the API and of a worker a fixed time
 * after each finished booting (answered its readiness probe), with nothing to do. Counted from
 * ready, not from spawn: on a loaded machine boot alone can take longer than 10 s. The API is the run's own, measured before any
 * load reaches it; the worker is started for this alone with the app's default queues and
 * concurrency (what a deployment runs) and stopped afterwards. Also recorded: the peak RSS so
 * far (VmHWM: boot may peak above the idle level), the time to ready, and the CPU each process
 * used between ready and the reading (an idle process should use next to none).
 */
const { cpuMs, peakRssMb, rssMb, sleep, statusMb } = require('./infra');
const { round } = require('./stats');

/** Issue #14's idle targets, in MB of resident memory. */
const IDLE_RSS_TARGETS_MB = { worker: 120, api: 150 };

/** Idle CPU counts from when the phase starts (at or a little after ready): boot work is not idle. */
function snapshot(record, readyAt) {
  return { since: Date.now(), readyMs: readyAt - record.startedAt, cpuSince: cpuMs(record.pid) };
}

function reading(record, start, afterSeconds) {
  const cpu = cpuMs(record.pid);
  const seconds = (Date.now() - start.since) / 1000;
  return {
    rssMb: rssMb(record.pid),
    peakRssMb: peakRssMb(record.pid),
    // What the RSS is made of: the process's own memory (heaps, buffers) and mapped files (the
    // node binary's code, shared with every other node process on the machine).
    anonMb: statusMb(record.pid, 'RssAnon'),
    fileMb: statusMb(record.pid, 'RssFile'),
    readyMs: start.readyMs,
    afterSeconds,
    // CPU between ready and the reading, as % of one core: timers and polls of an idle process.
    idleCpuPct: cpu === null || start.cpuSince === null || seconds <= 0 ? null : round(((cpu - start.cpuSince) / (seconds * 1000)) * 100, 2),
  };
}

/**
 * `api` is the run's API, `worker` a worker started next to it with the app's defaults (both as
 * returned by the stack, plus `readyAt`). Each is read once `afterSeconds` have passed since it
 * was ready; the worker is stopped afterwards.
 */
async function idlePhase(ctx, { api, worker }) {
  const { mode, log } = ctx;
  const afterSeconds = mode.idleAfterSeconds;
  const apiStart = snapshot(api.record, api.readyAt);
  const workerStart = snapshot(worker.record, worker.readyAt);
  const waitFor = async ({ readyAt }) => {
    const due = readyAt + afterSeconds * 1000;
    if (Date.now() < due) await sleep(due - Date.now());
  };
  try {
    await waitFor(api);
    const apiReading = reading(api.record, apiStart, afterSeconds);
    await waitFor(worker);
    const workerReading = reading(worker.record, workerStart, afterSeconds);
    const result = { afterSeconds, targetsMb: IDLE_RSS_TARGETS_MB, api: apiReading, worker: workerReading };
    log(
      `idle RSS ${afterSeconds} s after ready: api ${apiReading.rssMb} MB (peak ${apiReading.peakRssMb}), worker ${workerReading.rssMb} MB (peak ${workerReading.peakRssMb}); ready after ${apiReading.readyMs} / ${workerReading.readyMs} ms`,
    );
    return result;
  } finally {
    await worker.record.stop();
  }
}

module.exports = { idlePhase, IDLE_RSS_TARGETS_MB };
