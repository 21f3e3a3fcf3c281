/** One entry of an error's `details`: which field, what is wrong. */
export interface ConveyorErrorDetail {
  field?: string;
  message: string;
  code?: string;
}

/** Every error the client throws; `code` is the API's machine-readable code (or the client's own). */
export class ConveyorError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The HTTP status; 0 when no answer came. */
    readonly status = 0,
    readonly details: ConveyorErrorDetail[] = [],
    readonly requestId?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** 400 and 413: the request is wrong (VALIDATION_FAILED, UNKNOWN_TASK_TYPE, PAYLOAD_TOO_LARGE, …); do not retry it as is. */
export class ConveyorValidationError extends ConveyorError {}
/** 401 and 403: no key, a wrong key, or a key without the scope. */
export class ConveyorAuthError extends ConveyorError {}
/** 404: not in the key's tenant (TASK_NOT_FOUND, …). */
export class ConveyorNotFoundError extends ConveyorError {}
/** 409 and 422: the state does not allow it (TASK_TERMINAL, TASK_NOT_RETRYABLE, IDEMPOTENCY_KEY_REUSED, …). */
export class ConveyorConflictError extends ConveyorError {}
/** 429: RATE_LIMITED or TOO_MANY_STREAMS; `retryAfterMs` from Retry-After. */
export class ConveyorRateLimitError extends ConveyorError {
  retryAfterMs?: number;
}
/** 5xx: QUEUE_UNAVAILABLE and the like; nothing was accepted. */
export class ConveyorUnavailableError extends ConveyorError {}
/** No answer: the connection failed or was cut (code NETWORK_ERROR). */
export class ConveyorNetworkError extends ConveyorError {}
/** `waitFor` gave up (code WAIT_TIMEOUT). */
export class ConveyorTimeoutError extends ConveyorError {}

/** The typed exception for an API answer of `status` with the error body `{error: {code, message, details}}`. */
export function errorFromResponse(status: number, body: unknown, retryAfter: string | null): ConveyorError {
  const error = (body as { error?: { code?: string; message?: string; details?: ConveyorErrorDetail[]; requestId?: string } } | undefined)?.error;
  const code = error?.code ?? `HTTP_${status}`;
  const message = error?.message ?? `The API answered ${status}`;
  const args = [code, message, status, error?.details ?? [], error?.requestId] as const;
  if (status === 429) {
    const limited = new ConveyorRateLimitError(...args);
    if (retryAfter && Number.isFinite(Number(retryAfter))) limited.retryAfterMs = Number(retryAfter) * 1000;
    return limited;
  }
  if (status === 401 || status === 403) return new ConveyorAuthError(...args);
  if (status === 404) return new ConveyorNotFoundError(...args);
  if (status === 409 || status === 422) return new ConveyorConflictError(...args);
  if (status >= 500) return new ConveyorUnavailableError(...args);
  if (status >= 400) return new ConveyorValidationError(...args);
  return new ConveyorError(...args);
}
