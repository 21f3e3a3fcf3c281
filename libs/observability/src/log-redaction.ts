export const CENSOR = '[redacted]';
export const SECRET_REQUEST_HEADERS = ['authorization', 'cookie', 'x-api-key'];
export const SECRET_RESPONSE_HEADERS = ['set-cookie'];

/**
 * The headers with their secrets replaced, copied only when there is one to replace. Done in
 * the req/res serializers rather than by pino's path redaction, which clones the logged object
 * on every line (~6 % of the API's busy time in a profile under load); a serializer runs once
 * per request line (or request logger).
 */
export function censorHeaders<T extends Record<string, unknown> | undefined>(headers: T, names: readonly string[]): T {
  if (!headers) return headers;
  let copy: Record<string, unknown> | undefined;
  for (const name of names) {
    if (headers[name] === undefined) continue;
    copy ??= { ...headers };
    copy[name] = CENSOR;
  }
  return (copy ?? headers) as T;
}
