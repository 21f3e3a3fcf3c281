import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { startPrivatePostgres, startPrivateRedis, waitFor, type PrivateDatabaseServer, type PrivateRedis } from '@conveyor/testing';
import { http, startStack, waitForTerminal, type Stack } from './support/stack';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A Prometheus text exposition: the declared metric names (# TYPE) and every sample. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1], type[2]);
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) continue;
    const labels = Object.fromEntries([...(sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    samples.push({ name: sample[1], labels, value: Number(sample[3]) });
  }
  return { types, samples };
}

/** Every series name a scrape can show: the declared names, and a histogram's _bucket/_sum/_count. */
function exportedNames(types: Map<string, string>): Set<string> {
  const names = new Set<string>();
  for (const [name, type] of types) {
    names.add(name);
    if (type === 'histogram' || type === 'summary') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
  }
  return names;
}

/** The metric names a PromQL expression reads (ours and the standard process/runtime ones). */
const metricsIn = (expr: string) => [...expr.matchAll(/\b((?:conveyor|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]);

const ROOT = join(__dirname, '..', '..');
const DASHBOARD_SCHEMA = {
  type: 'object',
  required: ['uid', 'title', 'schemaVersion', 'panels', 'templating'],
  properties: {
    uid: { type: 'string', minLength: 1 },
    title: { type: 'string', minLength: 1 },
    schemaVersion: { type: 'integer', minimum: 30 },
    templating: {
      type: 'object',
      required: ['list'],
      properties: { list: { type: 'array', items: { type: 'object', required: ['name', 'type'] } } },
    },
    panels: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['id', 'type', 'title', 'gridPos', 'datasource', 'targets'],
        properties: {
          id: { type: 'integer' },
          type: { enum: ['timeseries', 'stat', 'gauge', 'bargauge', 'table'] },
          title: { type: 'string', minLength: 1 },
          gridPos: {
            type: 'object',
            required: ['h', 'w', 'x', 'y'],
            properties: { w: { type: 'integer', minimum: 1, maximum: 24 }, x: { type: 'integer', minimum: 0, maximum: 23 } },
          },
          targets: {
            type: 'array',
            minItems: 1,
            items: { type: 'object', required: ['refId', 'expr'], properties: { expr: { type: 'string', minLength: 1 } } },
          },
        },
      },
    },
  },
};

/**
 * What operators watch: the standard process metrics and Conveyor's own on both apps' /metrics,
 * with bounded labels; the shipped Grafana dashboard and alert rules query only metrics the
 * real apps export (scraped here); the worker's readiness tells per queue whether it can
 * consume, and why not, when its Redis goes away (a private redis-server, stopped and started).
 */
describe('monitoring: metrics, dashboard, worker readiness', () => {
  let redis: PrivateRedis;
  let stack: Stack;
  const scrape = async (url: string) => {
    const response = await http(url, 'GET', '/metrics');
    expect(response.status).toBe(200);
    return parseExposition(response.body as string);
  };

  beforeAll(async () => {
    redis = await startPrivateRedis();
    stack = await startStack({ env: { REDIS_URL: redis.url } });
    const tasks = [{ ms: 20 }, { ms: 20, failTimes: 1 }, { ms: 20 }];
    for (const payload of tasks) {
      const created = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload, maxAttempts: 3 });
      expect(created.status).toBe(202);
      expect((await waitForTerminal(stack.apiUrl, created.body.id)).status).toBe('completed');
    }
  });

  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
  });

  it('both apps export the standard process metrics and Conveyor metrics with bounded labels', async () => {
    const api = await scrape(stack.apiUrl);
    const worker = await scrape(stack.workerUrl);
    for (const { samples, types } of [api, worker]) {
      // prom-client's standard names, so stock Node.js dashboards work.
      for (const name of ['process_resident_memory_bytes', 'process_cpu_seconds_total', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes']) {
        expect(samples.find((s) => s.name === name)?.value).toBeGreaterThan(0);
      }
      expect([...types.keys()].filter((name) => name.startsWith('conveyor_process_') || name.startsWith('conveyor_nodejs_'))).toEqual([]);
      // No label that grows with tasks or tenants.
      const labelNames = new Set(samples.filter((s) => s.name.startsWith('conveyor_')).flatMap((s) => Object.keys(s.labels)));
      expect([...labelNames].filter((label) => /^(id|task_?id|tenant(_?id)?|key|request_?id)$/i.test(label))).toEqual([]);
    }

    const value = (samples: Sample[], name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    // Task counters and run times on the worker, with buckets that reach hours.
    expect(value(worker.samples, 'conveyor_tasks_completed_total', { type: 'system.sleep', queue: 'system' })).toBe(3);
    expect(value(worker.samples, 'conveyor_tasks_failed_total', { type: 'system.sleep', final: 'false' })).toBe(1);
    expect(value(worker.samples, 'conveyor_task_duration_seconds_bucket', { outcome: 'completed', le: '14400' })).toBe(3);
    expect(value(worker.samples, 'conveyor_task_duration_seconds_bucket', { outcome: 'completed', le: '0.001' })).toBe(0);
    expect(value(worker.samples, 'conveyor_worker_consuming', { queue: 'system' })).toBe(1);
    expect(value(worker.samples, 'conveyor_ledger_write_backlog', {})).toBe(0);
    expect(worker.types.get('conveyor_ledger_write_errors_total')).toBe('counter');
    // Queue gauges on the API, read from Redis at scrape time.
    expect(value(api.samples, 'conveyor_queue_workers', { queue: 'system' })).toBeGreaterThanOrEqual(1);
    expect(value(api.samples, 'conveyor_queue_oldest_waiting_seconds', { queue: 'system' })).toBe(0);
    expect(value(api.samples, 'conveyor_queue_jobs', { queue: 'system', state: 'completed' })).toBeGreaterThanOrEqual(0);
  });

  it('probes and scrapes write no log line on either app', async () => {
    const [apiBefore, workerBefore] = [stack.api!.logs().length, stack.worker!.logs().length];
    for (const base of [stack.apiUrl, stack.workerUrl]) {
      for (const path of ['/health/live', '/health/ready', '/metrics', '/metrics?probe=1']) expect((await http(base, 'GET', path)).status).toBe(200);
    }
    // A request after them: once its line is out, theirs would be too.
    await http(stack.apiUrl, 'GET', '/v1/tasks?limit=1', undefined, { 'x-request-id': 'after-probes' });
    await waitFor(() => stack.api!.logs().some((line) => (line.req as { id?: string } | undefined)?.id === 'after-probes'), {
      what: 'the line after the probes',
    });
    await new Promise((resolve) => setTimeout(resolve, 300)); // the worker's buffered log lines are written every 100 ms
    const mentionsProbe = (line: Record<string, unknown>) => /\/(health\/(live|ready)|metrics)\b/.test(JSON.stringify(line));
    expect(stack.api!.logs().slice(apiBefore).filter(mentionsProbe)).toEqual([]);
    expect(stack.worker!.logs().slice(workerBefore).filter(mentionsProbe)).toEqual([]);
  });

  it('the dashboard and the alert rules query only metrics the apps export', async () => {
    const exported = new Set([...exportedNames((await scrape(stack.apiUrl)).types), ...exportedNames((await scrape(stack.workerUrl)).types)]);
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'k8s/monitoring/conveyor-dashboard.json'), 'utf8'));
    const validate = new Ajv({ allErrors: true }).compile(DASHBOARD_SCHEMA);
    expect(validate(dashboard) ? [] : validate.errors).toEqual([]);
    const panels = dashboard.panels as Array<{ id: number; title: string; targets: Array<{ expr: string }> }>;
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);

    const dashboardMetrics = panels.flatMap((panel) =>
      panel.targets.flatMap((target) => metricsIn(target.expr).map((metric) => ({ panel: panel.title, metric }))),
    );
    for (const panel of panels)
      expect({ panel: panel.title, metrics: panel.targets.flatMap((t) => metricsIn(t.expr)).length > 0 }).toEqual({ panel: panel.title, metrics: true });
    expect(dashboardMetrics.filter(({ metric }) => !exported.has(metric))).toEqual([]);

    const rules = parse(readFileSync(join(ROOT, 'k8s/monitoring/conveyor-alerts.yaml'), 'utf8')).groups.flatMap((g: { rules: unknown[] }) => g.rules) as Array<{
      alert?: string;
      record?: string;
      expr: string;
    }>;
    const recorded = new Set(rules.filter((r) => r.record).map((r) => r.record));
    const ruleMetrics = rules.flatMap((rule) => metricsIn(rule.expr).map((metric) => ({ rule: rule.alert ?? rule.record, metric })));
    expect(ruleMetrics.filter(({ metric }) => !exported.has(metric) && !recorded.has(metric))).toEqual([]);
    // The names the alerts watch are all there.
    for (const name of [
      'conveyor_queue_workers',
      'conveyor_queue_oldest_waiting_seconds',
      'conveyor_ledger_write_errors_total',
      'conveyor_tasks_requeued_total',
    ]) {
      expect(ruleMetrics.map((m) => m.metric)).toContain(name);
    }
  });

  it('worker readiness reports per queue whether it can consume, and why not while Redis is away', async () => {
    const ready = await http(stack.workerUrl, 'GET', '/health/ready');
    expect(ready.status).toBe(200);
    // A recent event-loop stall (a loaded machine) may make it `degraded`; nothing else may.
    expect(ready.body.worker).toMatchObject({
      status: expect.stringMatching(/^(ok|degraded)$/),
      ledger: { backlog: 0, writeBehindMax: 1000, failingFlushes: 0 },
    });
    expect(ready.body.worker.reasons.filter((reason: string) => !reason.includes('event loop'))).toEqual([]);
    expect(ready.body.worker.consume).toEqual(expect.arrayContaining([{ queue: 'system', canConsume: true, running: true, blockingConnection: 'ready' }]));
    expect(ready.body.worker.consume.map((q: { queue: string }) => q.queue).sort()).toEqual([...ready.body.worker.queues].sort());

    await redis.stop();
    try {
      const down = await waitFor(
        async () => {
          const response = await http(stack.workerUrl, 'GET', '/health/ready');
          return response.status === 503 &&
            response.body.worker.consume.some((q: { queue: string; canConsume: boolean }) => q.queue === 'system' && !q.canConsume)
            ? response
            : undefined;
        },
        { timeoutMs: 20_000, what: 'the worker reporting it cannot consume' },
      );
      expect(down.body.worker.status).toBe('down');
      expect(down.body.worker.reasons).toEqual(
        expect.arrayContaining([expect.stringMatching(/^queue system cannot be consumed: its blocking Redis connection is (?!ready)\w+$/)]),
      );
      const metrics = await scrape(stack.workerUrl);
      expect(metrics.samples.find((s) => s.name === 'conveyor_worker_consuming' && s.labels.queue === 'system')?.value).toBe(0);
    } finally {
      await redis.start();
    }

    const back = await waitFor(
      async () => {
        const response = await http(stack.workerUrl, 'GET', '/health/ready');
        return response.status === 200 ? response : undefined;
      },
      { timeoutMs: 30_000, what: 'the worker ready again' },
    );
    expect(back.body.worker.consume.every((q: { canConsume: boolean }) => q.canConsume)).toBe(true);
    const after = await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.noop', payload: {} });
    expect((await waitForTerminal(stack.apiUrl, after.body.id)).status).toBe('completed');
  });
});

/**
 * The ledger database goes away while tasks finish (a private PostgreSQL server, stopped and
 * started): the worker's readiness names the lagging ledger writer, its metrics count the failed
 * flushes and the backlog, and once the database is back every change is committed.
 */
describe('monitoring: the ledger writer while the database is away (tenant labels on)', () => {
  let db: PrivateDatabaseServer;
  let stack: Stack;

  beforeAll(async () => {
    db = await startPrivatePostgres();
    stack = await startStack({
      // METRICS_TENANT_LABEL: this stack's task counters carry the tenant (the other one's must not).
      env: { DATABASE_URL: db.url, DB_CONNECT_TIMEOUT_MS: '1000', DB_STATEMENT_TIMEOUT_MS: '1000', WORKER_WRITE_BEHIND_MAX: '2', METRICS_TENANT_LABEL: 'true' },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await db?.destroy();
  });

  it('reports the backlog over WORKER_WRITE_BEHIND_MAX and failing flushes, counts them, and commits everything afterwards', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) ids.push((await http(stack.apiUrl, 'POST', '/v1/tasks', { type: 'system.sleep', payload: { ms: 2500 } })).body.id);
    await waitFor(
      async () => {
        const statuses = await Promise.all(ids.map(async (id) => (await http(stack.apiUrl, 'GET', `/v1/tasks/${id}`)).body.status));
        return statuses.every((status) => status === 'active');
      },
      { timeoutMs: 30_000, what: 'the four tasks active' },
    );

    await db.stop();
    try {
      const lagging = await waitFor(
        async () => {
          const response = await http(stack.workerUrl, 'GET', '/health/ready');
          return response.body.worker?.ledger?.backlog > 2 && response.body.worker.ledger.failingFlushes > 0 ? response : undefined;
        },
        { timeoutMs: 30_000, what: 'the ledger backlog over the limit, flushes failing' },
      );
      expect(lagging.status).toBe(503); // the database check fails too
      expect(lagging.body.worker.reasons).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^ledger backlog \d+ is over WORKER_WRITE_BEHIND_MAX \(2\): completions wait for their commit$/),
          expect.stringMatching(/^ledger writes failing \(\d+ in a row\); changes kept and retried$/),
        ]),
      );
      const metrics = parseExposition((await http(stack.workerUrl, 'GET', '/metrics')).body as string).samples;
      expect(metrics.find((s) => s.name === 'conveyor_ledger_write_errors_total' && s.labels.kind === 'connection')?.value).toBeGreaterThanOrEqual(1);
      expect(metrics.find((s) => s.name === 'conveyor_ledger_write_backlog')?.value).toBeGreaterThan(2);
    } finally {
      await db.start();
    }

    for (const id of ids) expect((await waitForTerminal(stack.apiUrl, id, 60_000)).status).toBe('completed');
    const ready = await waitFor(
      async () => {
        const response = await http(stack.workerUrl, 'GET', '/health/ready');
        return response.status === 200 && response.body.worker.ledger.backlog === 0 ? response : undefined;
      },
      { timeoutMs: 30_000, what: 'the worker ready again, its ledger writer caught up' },
    );
    expect(ready.body.worker.ledger).toMatchObject({ backlog: 0, failingFlushes: 0 });
    expect(ready.body.worker.reasons.filter((reason: string) => !reason.includes('event loop'))).toEqual([]);
    const withTenant = (samples: Sample[], name: string) =>
      samples.find((s) => s.name === name && s.labels.tenant === 'default' && s.labels.type === 'system.sleep')?.value;
    expect(withTenant(parseExposition((await http(stack.workerUrl, 'GET', '/metrics')).body as string).samples, 'conveyor_tasks_completed_total')).toBe(4);
    expect(withTenant(parseExposition((await http(stack.apiUrl, 'GET', '/metrics')).body as string).samples, 'conveyor_tasks_enqueued_total')).toBe(4);
  });
});
