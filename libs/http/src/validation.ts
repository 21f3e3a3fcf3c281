import type { ValidationError } from '@nestjs/common';
import { DomainError, type DomainErrorDetail } from '@conveyor/errors';
import { OpaqueJsonValidationPipe } from './validation.pipe';

/** Flattens nested class-validator errors to `{field: "a.b[0].c", message}` entries. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): DomainErrorDetail[] {
  const details: DomainErrorDetail[] = [];
  for (const error of errors) {
    const field = parent ? (/^\d+$/.test(error.property) ? `${parent}[${error.property}]` : `${parent}.${error.property}`) : error.property;
    // A constraint may name its own code (`context: {code}` on the decorator): a rule with a
    // name of its own in the contract, such as NOT_FOR_SOURCE.
    for (const [constraint, message] of Object.entries(error.constraints ?? {})) {
      const code = (error.contexts?.[constraint] as { code?: unknown } | undefined)?.code;
      details.push(typeof code === 'string' ? { field, message, code } : { field, message });
    }
    if (error.children?.length) details.push(...flattenValidationErrors(error.children, field));
  }
  return details;
}

export function validationFailed(details: DomainErrorDetail[]): DomainError {
  return DomainError.invalid('VALIDATION_FAILED', 'The request is invalid', details);
}

/** A request body's problems: VALIDATION_FAILED, or the code of the first rule that names one. */
function bodyRefused(details: DomainErrorDetail[]): DomainError {
  const coded = details.find((detail) => detail.code !== undefined);
  return coded ? DomainError.invalid(String(coded.code), `${coded.field}: ${coded.message}`, details) : validationFailed(details);
}

/** Global pipe: unknown fields are refused rather than silently dropped. */
export function createValidationPipe(): OpaqueJsonValidationPipe {
  return new OpaqueJsonValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) => bodyRefused(flattenValidationErrors(errors)),
  });
}
