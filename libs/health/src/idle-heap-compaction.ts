import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A window whose event-loop utilisation stays under this counts as idle. */
export const IDLE_UTILIZATION = 0.02;
/** A window over this counts as busy: the next idle spell compacts again. */
export const BUSY_UTILIZATION = 0.1;

/**
 * When to compact: once per idle spell. Boot counts as busy, so a fresh process compacts after
 * its first idle window; after a compaction it waits for a busy window before the next one, so
 * a process that stays idle pays for one full collection, not one per window.
 */
export class IdleCompactionPolicy {
  private armed = true;

  /** Takes one window's event-loop utilisation (0..1); true when the heap should be compacted now. */
  observe(utilization: number): boolean {
    if (utilization > BUSY_UTILIZATION) this.armed = true;
    if (!this.armed || utilization >= IDLE_UTILIZATION) return false;
    this.armed = false;
    return true;
  }
}

type Collect = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * V8's collector. Without `--expose-gc` at launch it is taken from a fresh context created while
 * the flag is briefly on (the flag only decides whether new contexts get `gc`); undefined where
 * V8 refuses, and then nothing is compacted.
 */
function loadCollector(): Collect | undefined {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as Collect;
  try {
    setFlagsFromString('--expose-gc');
    const collect: unknown = runInNewContext('gc');
    return typeof collect === 'function' ? (collect as Collect) : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

interface CompactionLogger {
  debug?(message: unknown, ...rest: unknown[]): void;
  log(message: unknown, ...rest: unknown[]): void;
}

const mb = (bytes: number): number => Math.round(bytes / 104_857.6) / 10;

/**
 * Gives an idle process's spare heap back to the system. V8 sizes the young generation for the
 * busiest moment it has seen (boot, a burst of tasks) and keeps it committed: an idle worker holds
 * ~60 MB of empty young space. A "last resort" collection (full, compacting, shrinking the young
 * generation) after `idleMs` of an idle event loop returns it; the next burst grows it again.
 * One such collection takes tens of milliseconds on an idle loop, once per idle spell.
 * Returns a stop function (the timer is unref'd: it never keeps the process alive).
 */
export function compactHeapWhenIdle(idleMs: number, logger: CompactionLogger): () => void {
  if (idleMs <= 0) return () => undefined;
  const collect = loadCollector();
  if (!collect) {
    logger.log('idle heap compaction unavailable in this runtime', 'Memory');
    return () => undefined;
  }
  const policy = new IdleCompactionPolicy();
  let previous: EventLoopUtilization = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const window = performance.eventLoopUtilization(now, previous);
    previous = now;
    if (!policy.observe(window.utilization)) return;
    const before = process.memoryUsage().rss;
    const started = performance.now();
    collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    const tookMs = Math.round(performance.now() - started);
    (logger.debug ?? logger.log).call(logger, { rssMbBefore: mb(before), rssMbAfter: mb(process.memoryUsage().rss), tookMs }, 'idle: heap compacted', 'Memory');
  }, idleMs);
  timer.unref();
  return () => clearInterval(timer);
}
