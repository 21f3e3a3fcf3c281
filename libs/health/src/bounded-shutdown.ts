/** Time the shutdown may take past the grace period: closing connections, flushing the ledger. */
export const SHUTDOWN_MARGIN_MS = 10_000;

interface ShutdownLogger {
  error(message: unknown, ...rest: unknown[]): void;
}

/**
 * A stop signal ends the process within `graceMs` + SHUTDOWN_MARGIN_MS whatever happens: with
 * Redis or the database unreachable, closing a connection waits for a server that is not there,
 * and a process that never exits blocks a deploy until it is killed. Work it still held is taken
 * over as after a crash (a worker's tasks once their locks expire; an API's clients retry).
 */
export function boundShutdown(graceMs: number, logger: ShutdownLogger): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => exitAfterDeadline(graceMs, logger, 1));
}

/**
 * A stop the process starts itself (a worker recycling): closes the app as a signal would, bounded
 * the same way, and exits with `exitCode` whether the close succeeded, failed or ran out of time.
 */
export function stopAndExit(close: () => Promise<void>, graceMs: number, logger: ShutdownLogger, exitCode: number): void {
  exitAfterDeadline(graceMs, logger, exitCode);
  const exit = () => process.exit(exitCode);
  void close().then(exit, exit);
}

function exitAfterDeadline(graceMs: number, logger: ShutdownLogger, exitCode: number): void {
  setTimeout(() => {
    logger.error(
      { graceMs, marginMs: SHUTDOWN_MARGIN_MS },
      'shutdown did not finish in time (Redis or the database unreachable?); exiting anyway',
      'Bootstrap',
    );
    process.exit(exitCode);
  }, graceMs + SHUTDOWN_MARGIN_MS).unref();
}
