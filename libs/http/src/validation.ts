import type { ValidationError } from '@nestjs/common';
import { ApiError, type ApiErrorDetail } from './api-error';
import { OpaqueJsonValidationPipe } from './validation.pipe';

/** Flattens nested class-validator errors to `{field: "a.b[0].c", message}` entries. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): ApiErrorDetail[] {
  const details: ApiErrorDetail[] = [];
  for (const error of errors) {
    const field = parent ? (/^\d+$/.test(error.property) ? `${parent}[${error.property}]` : `${parent}.${error.property}`) : error.property;
    for (const message of Object.values(error.constraints ?? {})) details.push({ field, message });
    if (error.children?.length) details.push(...flattenValidationErrors(error.children, field));
  }
  return details;
}

export function validationFailed(details: ApiErrorDetail[]): ApiError {
  return ApiError.badRequest('VALIDATION_FAILED', 'The request is invalid', details);
}

/** Global pipe: unknown fields are refused rather than silently dropped. */
export function createValidationPipe(): OpaqueJsonValidationPipe {
  return new OpaqueJsonValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) => validationFailed(flattenValidationErrors(errors)),
  });
}
