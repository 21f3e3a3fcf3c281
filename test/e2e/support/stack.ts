import {
  APP_ENTRY,
  createTestDatabase,
  deleteRedisPrefix,
  freePort,
  migrate,
  startProcess,
  TEST_REDIS_URL,
  uniqueName,
  waitFor,
  waitUntilReady,
  type AppProcess,
  type TestDatabase,
} from '@conveyor/testing';

// Kept here too: e2e files take their stack helpers from this module.
export { localWebhookEnv } from '@conveyor/testing';
import type { SqlDialect } from '@conveyor/database';

/** The bootstrap admin key every test stack starts with (tenant "default", every scope). */
export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef';
/** The key every test stack seals webhook signing secrets with (32 bytes, base64). */
export const TEST_WEBHOOK_SECRET_KEY = Buffer.alloc(32, 7).toString('base64');

export interface Stack {
  env: Record<string, string>;
  prefix: string;
  apiUrl: string;
  workerUrl: string;
  api?: AppProcess;
  worker?: AppProcess;
  database: TestDatabase;
  startWorker(extraEnv?: Record<string, string>): Promise<AppProcess>;
  stop(): Promise<void>;
}

/**
 * A private Conveyor deployment for one test file: its own database (migrated), its own
 * BullMQ prefix, and the built API and worker as separate processes on free ports.
 */
export async function startStack(options: { dialect?: SqlDialect; worker?: boolean; api?: boolean; env?: Record<string, string> } = {}): Promise<Stack> {
  const database = await createTestDatabase(options.dialect ?? 'postgres');
  const prefix = uniqueName('e2e');
  const [apiPort, workerPort] = [await freePort(), await freePort()];
  const env: Record<string, string> = {
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
    PORT: String(apiPort),
    WORKER_HEALTH_PORT: String(workerPort),
    PROGRESS_UPDATE_INTERVAL_MS: '50',
    CONVEYOR_ADMIN_KEY: TEST_ADMIN_KEY,
    WEBHOOK_SECRET_KEY: TEST_WEBHOOK_SECRET_KEY,
    SHUTDOWN_GRACE_MS: '5000',
    ...options.env,
  };
  await migrate(env);
  // Every worker it starts stops with it: a test that forgets one would keep Jest from exiting.
  const workers: Array<{ process: AppProcess; port: string }> = [];
  const running = (process: AppProcess) => process.child.exitCode === null && process.child.signalCode === null;
  const stack: Stack = {
    env,
    prefix,
    database,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    workerUrl: `http://127.0.0.1:${workerPort}`,
    async startWorker(extraEnv = {}) {
      // A worker serves health on the stack's port unless a running one holds it (a test may stop
      // the first worker and start another in its place); any other gets a port of its own.
      const stackPortTaken = workers.some((w) => w.port === env.WORKER_HEALTH_PORT && running(w.process));
      const port = extraEnv.WORKER_HEALTH_PORT ?? (stackPortTaken ? String(await freePort()) : env.WORKER_HEALTH_PORT);
      const worker = startProcess(APP_ENTRY.worker, { ...env, WORKER_ID: uniqueName('worker'), ...extraEnv, WORKER_HEALTH_PORT: port });
      workers.push({ process: worker, port });
      await waitUntilReady(worker, `http://127.0.0.1:${port}/health/ready`);
      return worker;
    },
    async stop() {
      await Promise.all([stack.api?.stop(), ...workers.map((worker) => worker.process.stop())]);
      await database.drop();
      await deleteRedisPrefix(prefix);
    },
  };
  if (options.api !== false) {
    stack.api = startProcess(APP_ENTRY.api, env);
    await waitUntilReady(stack.api, `${stack.apiUrl}/health/ready`);
  }
  if (options.worker !== false) stack.worker = await stack.startWorker();
  return stack;
}

export interface TaskView {
  id: string;
  type: string;
  status: string;
  priority: number;
  attempts: number;
  maxAttempts: number;
  result: unknown;
  error: { code: string; message: string } | null;
  progress: { percent: number; message?: string } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  scheduledFor: string | null;
  workerId: string | null;
  tags: string[];
  parentId: string | null;
  rootId: string | null;
}

export async function http(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  // Authenticated as the bootstrap admin unless the test passes its own authorization
  // (an empty string sends none).
  const auth = headers.authorization ?? `Bearer ${TEST_ADMIN_KEY}`;
  const { authorization: _given, ...rest } = headers;
  const all: Record<string, string> = { ...(auth ? { authorization: auth } : {}), ...rest };
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? all : { 'content-type': 'application/json', ...all },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (e.g. /metrics)
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'expired']);

export async function waitForTerminal(base: string, id: string, timeoutMs = 20_000, headers: Record<string, string> = {}): Promise<TaskView> {
  return waitFor(
    async () => {
      const { body } = await http(base, 'GET', `/v1/tasks/${id}`, undefined, headers);
      return TERMINAL.has(body.status) ? (body as TaskView) : undefined;
    },
    { timeoutMs, what: `task ${id} to finish` },
  );
}

/** Most tasks that ran at the same moment, from the ledger's start and finish times. */
export function maxOverlap(tasks: TaskView[]): number {
  return peakConcurrency(tasks.map((t) => [Date.parse(t.startedAt!), Date.parse(t.finishedAt!)]));
}

/** The most intervals (start, end in ms) open at once; an end and a start at the same millisecond do not overlap. */
export function peakConcurrency(intervals: Array<[number, number]>): number {
  const events = intervals.flatMap(([start, end]) => [
    [start, 1],
    [end, -1],
  ]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let most = 0;
  for (const [, delta] of events) most = Math.max(most, (running += delta));
  return most;
}

/** Tasks not completed on their first and only attempt (a lost, failed or twice-run task shows here). */
export function notCompletedOnce(tasks: TaskView[]): Array<Pick<TaskView, 'id' | 'status' | 'attempts' | 'error'>> {
  return tasks.filter((t) => t.status !== 'completed' || t.attempts !== 1).map((t) => ({ id: t.id, status: t.status, attempts: t.attempts, error: t.error }));
}
