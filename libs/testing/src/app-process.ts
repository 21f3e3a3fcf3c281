import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './test-infra';

const ROOT = join(__dirname, '..', '..', '..');

export const APP_ENTRY = {
  api: join(ROOT, 'dist/apps/api/apps/api/src/main.js'),
  worker: join(ROOT, 'dist/apps/worker/apps/worker/src/main.js'),
  migrate: join(ROOT, 'dist/apps/api/apps/api/src/migrate.js'),
} as const;

export interface AppProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything the process printed so far (stdout and stderr), for assertions and debugging. */
  output(): string;
  /** Parsed JSON log lines printed so far. */
  logs(): Array<Record<string, unknown>>;
  /** Sends a signal and waits for the exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts a built app as its own process (the same Node as the tests), with a clean env:
 * only what the test passes plus PATH/HOME, so the developer's shell cannot leak in.
 */
export function startProcess(entry: string, env: Record<string, string>, args: string[] = []): AppProcess {
  const child = spawn(process.execPath, [entry, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test', LOG_LEVEL: 'info', ENV_FILE: '/nonexistent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const output = () => chunks.join('');
  return {
    child,
    exited,
    output,
    logs: () =>
      output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Waits until `url` answers 200, or the process exits (then fails with its output). */
export async function waitUntilReady(app: AppProcess, url: string, timeoutMs = 30_000): Promise<void> {
  let exited = false;
  void app.exited.then(() => (exited = true));
  await waitFor(
    async () => {
      if (exited) throw new Error(`process exited before it was ready:\n${app.output().slice(-3000)}`);
      const response = await fetch(url).catch(() => undefined);
      return response?.status === 200;
    },
    { timeoutMs, intervalMs: 100, what: url },
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n--- output ---\n${app.output().slice(-3000)}`);
  });
}

/** Runs the migration entry point to completion. */
export async function migrate(env: Record<string, string>): Promise<void> {
  const run = startProcess(APP_ENTRY.migrate, env);
  const { code } = await run.exited;
  if (code !== 0) throw new Error(`migrations failed (${code}):\n${run.output()}`);
}
