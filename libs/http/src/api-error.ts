import { HttpException, HttpStatus } from '@nestjs/common';
import type { DomainErrorDetail } from '@conveyor/errors';

export type ApiErrorDetail = DomainErrorDetail;

/** The one error body of the HTTP contract: `{"error":{"code","message","details"}}`. */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: ApiErrorDetail[]; requestId?: string };
}

/**
 * An HTTP-level error with a machine-readable code (bodies, headers, guards); the exception
 * filter renders it. Services throw a DomainError instead.
 */
export class ApiError extends HttpException {
  /** Sent as Retry-After (503s get one anyway). */
  retryAfterSeconds?: number;

  constructor(
    status: HttpStatus,
    readonly code: string,
    message: string,
    readonly details?: ApiErrorDetail[],
  ) {
    super({ code, message, details }, status);
  }
}
