import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort, waitFor } from './test-infra';

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** (Re)starts the server on the same port, empty (no persistence). */
  start(): Promise<void>;
  /** Stops it (SIGTERM; `--save ''` makes that a shutdown without saving) and waits for the exit. */
  stop(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open, commands sent meanwhile wait unanswered. */
  pause(): void;
  /** Thaws it (SIGCONT): it answers, and runs, whatever was sent while it was frozen. */
  resume(): void;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => resolve(socket.end() && true));
    socket.once('error', () => resolve(false));
  });
}

/**
 * A throwaway `redis-server` child process on a free port, for outage tests: the machine's
 * shared Redis must never be stopped or flushed. Nothing is persisted, so a restart is empty.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const redis: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      if (child) throw new Error('private redis-server is already running');
      const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      child = started;
      exited = new Promise((resolve) => started.once('exit', () => resolve()));
      void exited.then(() => {
        if (child === started) child = undefined;
      });
      await waitFor(() => accepts(port), { timeoutMs: 10_000, what: `redis-server on port ${port}` });
    },
    async stop() {
      if (!child) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited;
      child = undefined;
    },
    pause() {
      if (!child?.kill('SIGSTOP')) throw new Error('private redis-server is not running');
    },
    resume() {
      child?.kill('SIGCONT');
    },
  };
  await redis.start();
  return redis;
}
