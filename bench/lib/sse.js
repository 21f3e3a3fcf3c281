'use strict';
/**
 * Task event streams at rest: N tasks that do not change (queued, no worker runs during this
 * phase), one `GET /v1/tasks/:id/events` stream each, all open at once against the run's API.
 * Measured while nothing changes: the API's ledger reads for its streams
 * (`conveyor_event_stream_reads_total` on /metrics) per second, its CPU (from /proc) and its
 * resident memory with the streams open. The window must cover the streams' 30 s safety read
 * (README, event streams) to show it, so quick and full mode watch for longer than that.
 *
 * Then, with the other streams still open, `Last-Event-ID` resumption on three samples:
 *   unchanged  reconnect with the last id seen: nothing is sent again; a later change (cancel)
 *              arrives on the resumed stream as a `status` event with a newer id;
 *   changed    disconnect, cancel the task, reconnect with the old id: the new status at once;
 *   stale      reconnect with an id older than the row: the current status at once, with the
 *              same id as before (the row did not change).
 */
const http = require('node:http');
const { cpuMs, rssMb, sleep } = require('./infra');
const { NAME } = require('./baseline-job');
const { percentiles, round } = require('./stats');

const READS_METRIC = 'conveyor_event_stream_reads_total';
/** Streams opened at a time: enough to open 1,000 quickly, few enough not to flood the accept queue. */
const OPENERS = 20;

/** One parsed SSE block; comments (keep-alives) are not events. */
function parseBlock(block, at) {
  const event = { id: undefined, event: 'message', data: '', at };
  let fields = 0;
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    fields += 1;
    if (field === 'id') event.id = value;
    else if (field === 'event') event.event = value;
    else if (field === 'data') event.data = event.data ? `${event.data}\n${value}` : value;
  }
  return fields > 0 ? event : null;
}

/** A client of one event stream: collects the events; `waitFor` resolves with a match or null. */
class EventStream {
  constructor(request, response) {
    this.request = request;
    this.events = [];
    this.lastId = undefined;
    this.ended = false;
    this.waiters = new Set();
    let buffer = '';
    response.setEncoding('utf8');
    response.on('data', (chunk) => {
      buffer += chunk;
      for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
        const event = parseBlock(buffer.slice(0, end), Date.now());
        buffer = buffer.slice(end + 2);
        if (!event) continue;
        this.events.push(event);
        if (event.id !== undefined) this.lastId = event.id;
        this.notify();
      }
    });
    const ended = () => {
      this.ended = true;
      this.notify();
    };
    response.once('close', ended);
    response.once('error', ended);
  }

  notify() {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** The first event (already received or coming) matching `predicate`; null on timeout or end. */
  waitFor(predicate, timeoutMs) {
    return new Promise((resolve) => {
      const check = () => {
        const found = this.events.find(predicate);
        if (found || this.ended) finish(found ?? null);
      };
      const finish = (value) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      const timer = setTimeout(() => finish(null), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  close() {
    this.request.destroy();
  }
}

function openStream(url, headers, lastEventId) {
  return new Promise((resolve, reject) => {
    // agent: false: one connection per stream, as separate clients would have.
    const request = http.request(url, {
      agent: false,
      headers: { ...headers, accept: 'text/event-stream', ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }) },
    });
    request.once('error', reject);
    request.once('response', (response) => {
      // Later errors (the stream closed by either side) end the stream; they are not failures.
      request.on('error', () => undefined);
      if (response.statusCode !== 200) {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => reject(new Error(`GET ${url} answered ${response.statusCode}: ${body.slice(0, 300)}`)));
        return;
      }
      resolve(new EventStream(request, response));
    });
    request.end();
  });
}

/** The sum of a Prometheus counter's samples on the API's /metrics. */
async function metricValue(apiUrl, name) {
  const text = await (await fetch(`${apiUrl}/metrics`)).text();
  const pattern = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)$`, 'gm');
  let total = null;
  for (const match of text.matchAll(pattern)) total = (total ?? 0) + Number(match[1]);
  if (total === null) throw new Error(`${name} is not on ${apiUrl}/metrics`);
  return total;
}

async function createTasks(stack, count) {
  const ids = [];
  for (let left = count; left > 0; left -= 1000) {
    const size = Math.min(1000, left);
    const body = JSON.stringify({ tasks: Array.from({ length: size }, () => ({ type: NAME, payload: {} })) });
    const response = await fetch(`${stack.apiUrl}/v1/tasks/batch`, { method: 'POST', headers: stack.authHeaders, body });
    if (response.status !== 202) throw new Error(`creating tasks for the streams: /v1/tasks/batch answered ${response.status}: ${await response.text()}`);
    ids.push(...(await response.json()).tasks.map((task) => task.id));
  }
  return ids;
}

const isStatus = (event) => event.event === 'status';
const statusOf = (event) => (event ? JSON.parse(event.data).status : null);

async function cancel(stack, id) {
  const response = await fetch(`${stack.apiUrl}/v1/tasks/${id}/cancel`, { method: 'POST', headers: { authorization: stack.authHeaders.authorization } });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`cancelling ${id} answered ${response.status}`);
}

/** The three resumption cases on `sample` streams each (see the header). */
async function checkResumption(stack, streams, ids, { sample, noReplayWaitMs }, eventsUrl, headers) {
  const pick = (from) => Array.from({ length: sample }, (_, k) => from + k);
  const groups = { unchanged: pick(0), changed: pick(sample), stale: pick(2 * sample) };
  const pushMs = [];

  // unchanged: reconnect with the last id; nothing may be replayed; then a change must come.
  const checkUnchanged = async () => {
    const resumed = await Promise.all(
      groups.unchanged.map(async (i) => {
        const lastId = streams[i].lastId;
        streams[i].close();
        streams[i] = await openStream(eventsUrl(ids[i]), headers, lastId);
        return { i, lastId };
      }),
    );
    // How long a resumed stream of an unchanged task is watched for a replayed event.
    await sleep(noReplayWaitMs);
    const replayed = resumed.filter(({ i }) => streams[i].events.length > 0).length;
    const delivered = await Promise.all(
      resumed.map(async ({ i, lastId }) => {
        const sent = Date.now();
        await cancel(stack, ids[i]);
        const event = await streams[i].waitFor(isStatus, 15_000);
        if (event) pushMs.push(event.at - sent);
        return statusOf(event) === 'cancelled' && event.id !== lastId;
      }),
    );
    return { streams: sample, replayed, changeDelivered: delivered.filter(Boolean).length };
  };

  // changed: the task changes while its client is away; the old id brings the new status.
  const checkChanged = async () => {
    const changed = await Promise.all(
      groups.changed.map(async (i) => {
        const lastId = streams[i].lastId;
        streams[i].close();
        await cancel(stack, ids[i]);
        streams[i] = await openStream(eventsUrl(ids[i]), headers, lastId);
        const event = await streams[i].waitFor(isStatus, 15_000);
        return statusOf(event) === 'cancelled' && event.id !== lastId;
      }),
    );
    return { streams: sample, newStatusAtOnce: changed.filter(Boolean).length };
  };

  // stale: an id older than the row brings the current status, with the unchanged row's id.
  const checkStale = async () => {
    const stale = await Promise.all(
      groups.stale.map(async (i) => {
        const lastId = streams[i].lastId;
        streams[i].close();
        streams[i] = await openStream(eventsUrl(ids[i]), headers, '1');
        const event = await streams[i].waitFor(isStatus, 15_000);
        return statusOf(event) === 'queued' && event.id === lastId;
      }),
    );
    return { streams: sample, currentStatusAtOnce: stale.filter(Boolean).length };
  };

  // Disjoint streams and tasks: the three cases run at once.
  const [unchanged, changed, stale] = await Promise.all([checkUnchanged(), checkChanged(), checkStale()]);
  const ok = unchanged.replayed === 0 && unchanged.changeDelivered === sample && changed.newStatusAtOnce === sample && stale.currentStatusAtOnce === sample;
  return { ok, unchanged, changed, stale, pushAfterCancelMs: roundAll(percentiles(pushMs, [0.5, 0.99])) };
}

const roundAll = (stats) => Object.fromEntries(Object.entries(stats).map(([k, v]) => [k, round(v, 1)]));

async function ssePhase(ctx) {
  const { stack, mode, log } = ctx;
  const count = mode.sseStreams;
  const pid = stack.api.pid;
  const headers = { authorization: stack.authHeaders.authorization };
  const eventsUrl = (id) => `${stack.apiUrl}/v1/tasks/${id}/events`;
  const ids = await createTasks(stack, count);
  const rssBefore = rssMb(pid);
  const readsBefore = await metricValue(stack.apiUrl, READS_METRIC);

  const streams = new Array(count);
  const opening = Date.now();
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: Math.min(OPENERS, count) }, async () => {
        while (next < count) {
          const i = next;
          next += 1;
          streams[i] = await openStream(eventsUrl(ids[i]), headers);
        }
      }),
    );
    const first = await Promise.all(streams.map((stream) => stream.waitFor(isStatus, 30_000)));
    const withFirst = first.filter((event) => statusOf(event) === 'queued').length;
    if (withFirst !== count) throw new Error(`only ${withFirst} of ${count} streams sent the task's queued status`);
    const openSeconds = (Date.now() - opening) / 1000;
    // Each stream's watch reads its row once more right after the first event; wait for those.
    let readsToOpen = 0;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
      readsToOpen = (await metricValue(stack.apiUrl, READS_METRIC)) - readsBefore;
      if (readsToOpen >= count) break;
    }

    // The quiet window: nothing changes, every stream stays open.
    const eventsBefore = streams.reduce((sum, s) => sum + s.events.length, 0);
    const reads0 = await metricValue(stack.apiUrl, READS_METRIC);
    const cpu0 = cpuMs(pid);
    const t0 = Date.now();
    await sleep(mode.sseQuietSeconds * 1000);
    const reads1 = await metricValue(stack.apiUrl, READS_METRIC);
    const cpu1 = cpuMs(pid);
    const seconds = (Date.now() - t0) / 1000;
    const quiet = {
      seconds: round(seconds, 1),
      reads: reads1 - reads0,
      readsPerSec: round((reads1 - reads0) / seconds, 2),
      apiCpuPct: cpu0 === null || cpu1 === null ? null : round(((cpu1 - cpu0) / (seconds * 1000)) * 100, 2),
      eventsReceived: streams.reduce((sum, s) => sum + s.events.length, 0) - eventsBefore,
      streamsOpen: streams.filter((s) => !s.ended).length,
    };
    const rssWith = rssMb(pid);
    log(
      `sse: ${count} streams open in ${round(openSeconds, 1)} s; quiet ${quiet.seconds} s: ${quiet.reads} ledger reads (${quiet.readsPerSec}/s), api CPU ${quiet.apiCpuPct} %, RSS ${rssBefore} → ${rssWith} MB`,
    );

    const sample = Math.max(1, Math.min(mode.sseResumeSample, Math.floor(count / 4)));
    const resumption = await checkResumption(stack, streams, ids, { sample, noReplayWaitMs: mode.sseNoReplayWaitMs }, eventsUrl, headers);
    log(
      `sse resumption (${sample} streams per case, ${quiet.streamsOpen} open): ${resumption.ok ? 'ok' : 'FAILED'} ${JSON.stringify({ unchanged: resumption.unchanged, changed: resumption.changed, stale: resumption.stale })}; change pushed after cancel p50 ${resumption.pushAfterCancelMs.p50} ms`,
    );
    return {
      streams: count,
      openSeconds: round(openSeconds, 2),
      readsToOpen,
      quiet,
      apiRssMb: { before: rssBefore, withStreams: rssWith, perStreamKb: rssBefore && rssWith ? round(((rssWith - rssBefore) * 1024) / count, 1) : null },
      resumption,
    };
  } finally {
    for (const stream of streams) stream?.close();
  }
}

module.exports = { ssePhase, parseBlock };
