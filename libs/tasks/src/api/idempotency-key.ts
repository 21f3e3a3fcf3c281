import { DomainError } from '@conveyor/errors';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * The idempotency key of a request: the `Idempotency-Key` header, or the body's
 * `idempotencyKey` field; both may be given only if they agree.
 */
export function idempotencyKeyOf(header: string | undefined, bodyKey: string | undefined): string | undefined {
  if (header === undefined) return bodyKey;
  if (!IDEMPOTENCY_KEY.test(header)) {
    throw DomainError.invalid('VALIDATION_FAILED', 'The Idempotency-Key header is invalid', [
      { field: 'Idempotency-Key', message: 'must be 1-255 printable ASCII characters without spaces' },
    ]);
  }
  if (bodyKey !== undefined && bodyKey !== header)
    throw DomainError.invalid('VALIDATION_FAILED', 'The Idempotency-Key header and the idempotencyKey field differ');
  return header;
}
