import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { freePort, waitFor } from '@conveyor/testing';

/**
 * Helpers for the operations tests, which drive the project's own launchers (pm2, shell scripts)
 * as an operator would, and must leave no process behind even when an assertion fails.
 */

export const ROOT = join(__dirname, '..', '..', '..', '..');

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout + stderr, for messages */
  output: string;
  ms: number;
}

/**
 * Runs a command to its end with exactly `env` (plus PATH/HOME), so neither the developer's
 * shell nor the project's .env leaks in. Killed (with its process group) after `timeoutMs`.
 */
export function runCommand(
  command: string,
  args: string[],
  env: Record<string, string>,
  { timeoutMs = 60_000, cwd = ROOT }: { timeoutMs?: number; cwd?: string } = {},
): Promise<CommandResult> {
  const started = Date.now();
  const child = spawn(command, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group, so a timeout can end everything it started
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, output: `${stdout}${stderr}`, ms: Date.now() - started });
    });
  });
}

export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Pids of live processes whose environment holds `NAME=value`. Each test gives its processes a
 * unique QUEUE_PREFIX, so this finds exactly what the test started, whoever launched it (pm2's
 * daemon, a detached shell script), for the final cleanup.
 */
export function pidsWithEnv(name: string, value: string): number[] {
  const needle = `${name}=${value}\0`;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (`${readFileSync(`/proc/${entry}/environ`, 'latin1')}\0`.includes(needle)) pids.push(Number(entry));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids;
}

/** SIGKILLs every process carrying `NAME=value` and waits until they are gone. */
export async function killAllWithEnv(name: string, value: string): Promise<number[]> {
  const pids = pidsWithEnv(name, value);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await waitFor(() => pids.every((pid) => !isAlive(pid)), { timeoutMs: 10_000, what: `processes ${pids.join(', ')} to end` });
  return pids;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

/** A free port p with p + 1 … p + count - 1 free too (pm2 gives worker instance n port p + n). */
export async function freePortRange(count: number): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const base = await freePort();
    if (base + count > 65535) continue;
    const rest = await Promise.all(Array.from({ length: count - 1 }, (_, i) => portIsFree(base + i + 1)));
    if (rest.every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/** GET that never throws: status 0 when nothing answers. */
export async function httpGet(url: string): Promise<{ status: number; body: any }> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const text = await response.text();
    try {
      return { status: response.status, body: JSON.parse(text) };
    } catch {
      return { status: response.status, body: text };
    }
  } catch {
    return { status: 0, body: undefined };
  }
}
