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
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      setTimeout(() => {
        logger.error(
          { graceMs, marginMs: SHUTDOWN_MARGIN_MS },
          'shutdown did not finish in time (Redis or the database unreachable?); exiting anyway',
          'Bootstrap',
        );
        process.exit(1);
      }, graceMs + SHUTDOWN_MARGIN_MS).unref();
    });
  }
}
