/**
 * What went wrong, as the domain sees it; the API's exception filter turns each kind into its
 * HTTP status (invalid 400, forbidden 403, not_found 404, conflict 409, gone 410, too_large 413,
 * unsupported 415, unprocessable 422, rate_limited 429, unavailable 503).
 */
export type DomainErrorKind =
  'invalid' | 'forbidden' | 'not_found' | 'conflict' | 'gone' | 'too_large' | 'unsupported' | 'unprocessable' | 'rate_limited' | 'unavailable';

/** One problem of a refused input, usually one field. */
export interface DomainErrorDetail {
  field?: string;
  message: string;
  [extra: string]: unknown;
}

export interface DomainErrorOptions {
  details?: DomainErrorDetail[];
  /** When to try again, for rate_limited and unavailable. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

/**
 * An error a service throws when a request cannot be served: a machine-readable `code` (part
 * of the API contract), a message for people, and a kind. It knows nothing of HTTP, so the
 * same service code runs in the worker and the CLI; only the API maps kinds to statuses.
 */
export class DomainError extends Error {
  override readonly name = 'DomainError';
  readonly details?: DomainErrorDetail[];
  readonly retryAfterSeconds?: number;

  constructor(
    readonly kind: DomainErrorKind,
    readonly code: string,
    message: string,
    options: DomainErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.details) this.details = options.details;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }

  static invalid(code: string, message: string, details?: DomainErrorDetail[]): DomainError {
    return new DomainError('invalid', code, message, { details });
  }

  static notFound(code: string, message: string): DomainError {
    return new DomainError('not_found', code, message);
  }

  static conflict(code: string, message: string, details?: DomainErrorDetail[]): DomainError {
    return new DomainError('conflict', code, message, { details });
  }

  static forbidden(code: string, message: string): DomainError {
    return new DomainError('forbidden', code, message);
  }

  static unavailable(code: string, message: string): DomainError {
    return new DomainError('unavailable', code, message);
  }

  /** The same error with other details (e.g. fields prefixed with where the input sat). */
  withDetails(details: DomainErrorDetail[] | undefined): DomainError {
    return new DomainError(this.kind, this.code, this.message, { details, retryAfterSeconds: this.retryAfterSeconds, cause: this.cause });
  }
}
