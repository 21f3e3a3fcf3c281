/**
 * An expected, classified failure of a task attempt. `code` lands in the ledger's error.code.
 * `retryable: false` ends the task at once instead of using its remaining attempts;
 * `retryAfterMs` sets the wait before the next attempt instead of the type's backoff (a rate
 * limit's Retry-After, say).
 */
export class TaskFailure extends Error {
  readonly retryAfterMs?: number;

  constructor(
    readonly code: string,
    message: string,
    readonly retryable = true,
    options: { retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'TaskFailure';
    if (options.retryAfterMs !== undefined) this.retryAfterMs = Math.max(0, Math.round(options.retryAfterMs));
  }
}

/** The attempt ran past its time limit; its AbortSignal has fired. */
export class TaskTimeoutError extends TaskFailure {
  constructor(timeoutMs: number) {
    super('TIMEOUT', `attempt exceeded its ${timeoutMs} ms time limit`);
    this.name = 'TaskTimeoutError';
  }
}

/** The task was cancelled through the API while it ran; it ends `cancelled`, never retried. */
export class TaskCancelledError extends TaskFailure {
  constructor() {
    super('CANCELLED', 'cancelled while running', false);
    this.name = 'TaskCancelledError';
  }
}

/**
 * The worker is shutting down and the grace period is over: the attempt is abandoned and
 * the task goes back to the queue for another worker, without using up an attempt.
 */
export class TaskInterruptedError extends TaskFailure {
  constructor() {
    super('INTERRUPTED', 'the worker shut down before the task finished; it was released to another worker');
    this.name = 'TaskInterruptedError';
  }
}
