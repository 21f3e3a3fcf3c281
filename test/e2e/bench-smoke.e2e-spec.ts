import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { TEST_POSTGRES_URL, TEST_REDIS_URL } from '@conveyor/testing';

/**
 * The benchmark suite (bench/run.js) in its tiny `--smoke` mode: every phase runs against the
 * built apps and the result JSON has the expected shape with positive numbers, and the run
 * removed the database and Redis keys it created. No timing is asserted: the machine is shared.
 */
const ROOT = resolve(__dirname, '..', '..');

function runBench(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [join(ROOT, 'bench/run.js'), ...args],
      { cwd: ROOT, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
    );
    child.stdin?.end();
  });
}

const positive = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value > 0;

describe('benchmark suite (smoke mode)', () => {
  let out: string;
  let result: any;
  let output: string;

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'conveyor-bench-smoke-'));
    const run = await runBench(['--smoke', '--out', out], 130_000);
    output = run.output;
    if (run.code !== 0) throw new Error(`bench --smoke exited ${run.code}:\n${output.slice(-4000)}`);
    const files = readdirSync(out).filter((file) => /^\d{4}-.*\.json$/.test(file));
    expect(files).toHaveLength(1);
    result = JSON.parse(readFileSync(join(out, files[0]), 'utf8'));
  }, 140_000);

  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('writes a result (and latest.json) with versions and machine facts', () => {
    expect(JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'))).toEqual(result);
    expect(result).toMatchObject({ schema: 1, mode: 'smoke' });
    expect(result.environment.node).toMatch(/^v\d+/);
    expect(result.environment.redis).toMatch(/^\d+\./);
    expect(result.environment.database.version).toMatch(/PostgreSQL/);
    expect(result.environment.packages.bullmq).toMatch(/^\d+\./);
    expect(positive(result.environment.machine.cores)).toBe(true);
    expect(positive(result.environment.machine.memoryGb)).toBe(true);
    expect(result.environment.machine.model).toEqual(expect.any(String));
  });

  it('measured enqueue (single and batch) for Conveyor and the baseline, with ratios', () => {
    for (const kind of ['single', 'batch']) {
      const summary = result.enqueue[kind].summary;
      for (const value of [summary.throughput.conveyor, summary.throughput.baseline, summary.throughput.ratio, summary.p99.conveyor, summary.p99.baseline]) {
        expect(positive(value)).toBe(true);
      }
      expect(result.enqueue[kind].runs.conveyor[0]).toMatchObject({ non2xx: 0, errors: 0 });
    }
  });

  it('measured processing against raw BullMQ and checked the ledger', () => {
    const [config] = result.processing.configs;
    expect(config).toMatchObject({ procs: 1, concurrency: expect.any(Number), tasks: expect.any(Number) });
    expect([config.summary.conveyor, config.summary.baseline, config.summary.ratio].every(positive)).toBe(true);
    expect(result.processing.ledgerCheck.completed).toBe(result.processing.ledgerCheck.expected);
  });

  it('measured enqueue and processing with tracing off and on, exporting to a receiver', () => {
    const { tracing } = result;
    for (const part of [tracing.enqueue_single, tracing.enqueue_batch, tracing.processing]) {
      expect([part.summary.conveyor, part.summary.baseline, part.summary.ratio].every(positive)).toBe(true);
    }
    expect(tracing.exported.requests).toBeGreaterThan(0);
  });

  it('measured idle RSS of the API and a worker from /proc, with the targets', () => {
    for (const side of ['api', 'worker']) {
      const reading = result.idle[side];
      expect([reading.rssMb, reading.peakRssMb, reading.readyMs].every(positive)).toBe(true);
      expect(reading.peakRssMb).toBeGreaterThanOrEqual(reading.rssMb);
    }
    expect(result.idle.targetsMb).toEqual({ worker: 120, api: 150 });
    expect(result.targets.map((t: { name: string }) => t.name)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^idle RSS of the worker/), expect.stringMatching(/^idle RSS of the API/)]),
    );
  });

  it('held every event stream open through a quiet window, counted ledger reads and checked Last-Event-ID resumption', () => {
    const sse = result.sse;
    expect(sse.quiet.streamsOpen).toBe(sse.streams);
    // Opening reads each stream's row once; a quiet window sends nothing (keep-alives are comments).
    expect(sse.readsToOpen).toBeGreaterThanOrEqual(sse.streams);
    expect(sse.quiet.eventsReceived).toBe(0);
    expect(sse.quiet.reads).toBeGreaterThanOrEqual(0);
    expect(typeof sse.quiet.readsPerSec).toBe('number');
    expect(positive(sse.apiRssMb.withStreams)).toBe(true);
    expect(sse.resumption.ok).toBe(true);
    expect(sse.resumption.unchanged).toMatchObject({ replayed: 0, changeDelivered: sse.resumption.unchanged.streams });
    expect(sse.resumption.changed.newStatusAtOnce).toBe(sse.resumption.changed.streams);
    expect(sse.resumption.stale.currentStatusAtOnce).toBe(sse.resumption.stale.streams);
  });

  it('measured graphile-worker in the same processing rounds, and it ran every job once', () => {
    const [config] = result.processing.configs;
    expect(config.runs.graphile).toHaveLength(config.runs.baseline.length);
    expect([config.peer.vsRaw.peer, config.peer.vsRaw.ratio, config.peer.conveyorVsPeer.ratio].every(positive)).toBe(true);
    expect(result.processing.peer).toMatchObject({ name: 'graphile-worker', version: expect.stringMatching(/^\d+\./) });
    expect(result.processing.peerCheck.ran).toBe(result.processing.peerCheck.expected);
  });

  it('measured end-to-end latency with every task completed', () => {
    for (const system of ['conveyor', 'baseline']) {
      const run = result.latency[system];
      expect(run.missing).toBe(0);
      expect(run.accepted).toBe(run.requested);
      expect([run.endToEndMs.p50, run.endToEndMs.p95, run.endToEndMs.p99].every(positive)).toBe(true);
    }
    expect(positive(result.latency.conveyor.ledgerMs.count)).toBe(true);
    expect(result.targets.length).toBeGreaterThanOrEqual(8);
  });

  it('stopped every process it started', () => {
    expect(result.resources.pids.length).toBeGreaterThanOrEqual(5);
    const alive = result.resources.pids.filter((pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  });

  it("removed its databases (the ledger's and graphile-worker's) and Redis keys", async () => {
    const client = new Client({ connectionString: TEST_POSTGRES_URL });
    await client.connect();
    try {
      expect(result.resources.peerDatabase).toMatch(/^conveyor_bench_gw_/);
      const { rows } = await client.query('SELECT datname FROM pg_database WHERE datname = ANY($1)', [
        [result.resources.database, result.resources.peerDatabase],
      ]);
      expect(rows).toEqual([]);
    } finally {
      await client.end();
    }
    const { Redis } = await import('ioredis');
    const redis = new Redis(TEST_REDIS_URL);
    try {
      for (const prefix of result.resources.queuePrefixes) {
        const found: string[] = [];
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 5000);
          cursor = next;
          found.push(...keys);
        } while (cursor !== '0');
        expect(found).toEqual([]);
      }
    } finally {
      redis.disconnect();
    }
  });
});
