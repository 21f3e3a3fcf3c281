import { createHash } from 'node:crypto';

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
        .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/**
 * sha256 of a task request with its keys sorted, so the same request sent again (in any key
 * order) has the same fingerprint. The idempotency key itself is left out.
 */
export function requestFingerprint(request: object): string {
  const { idempotencyKey: _key, ...rest } = request as { idempotencyKey?: string };
  return createHash('sha256')
    .update(JSON.stringify(canonical(rest)))
    .digest('hex');
}
