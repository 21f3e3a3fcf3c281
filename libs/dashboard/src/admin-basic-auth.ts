import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, hasScope, type ApiErrorBody, type Principal } from '@conveyor/http';

/**
 * What the hook needs from the authenticator: the principal a presented key stands for, or
 * null; it may throw an ApiError (429 when the address has failed too often).
 */
export type VerifyApiKey = (presented: string, request: FastifyRequest, reply: FastifyReply) => Promise<Principal | null>;

export const DASHBOARD_REALM = 'Conveyor';

// The same cap as the bearer guard's 512-character key, base64-encoded with a username.
const BASIC = /^Basic[ \t]+([A-Za-z0-9+/]{1,1024}={0,2})[ \t]*$/i;

/** The password of `Authorization: Basic …` credentials (the username is ignored), or undefined. */
export function basicPassword(header: string | undefined): string | undefined {
  const match = typeof header === 'string' ? BASIC.exec(header) : null;
  if (!match) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const password = colon >= 0 ? decoded.slice(colon + 1) : '';
  return password.length > 0 ? password : undefined;
}

function deny(request: FastifyRequest, reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  const body: ApiErrorBody = { error: { code, message, requestId: String(request.id) } };
  return reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
}

/**
 * An onRequest hook for admin-only pages that browsers open directly (no bearer header there):
 * HTTP Basic whose password is an API key with the `admin` scope. 401 with a Basic challenge
 * when the key is missing or unknown (the browser then asks for credentials), 403 for a valid
 * key without `admin`. Answers with the API's error body, like every other route.
 */
export function adminBasicAuth(verify: VerifyApiKey, realm = DASHBOARD_REALM) {
  return async function adminBasicAuthHook(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const password = basicPassword(request.headers.authorization);
    let principal: Principal | null = null;
    if (password !== undefined) {
      try {
        principal = await verify(password, request, reply);
      } catch (error) {
        if (error instanceof ApiError && error.getStatus() < 500) return deny(request, reply, error.getStatus(), error.code, error.message);
        // The key store (database) is down: say so rather than pretend the key is wrong.
        void reply.header('retry-after', '2');
        return deny(request, reply, 503, 'SERVICE_UNAVAILABLE', 'API keys cannot be checked right now; retry later');
      }
    }
    if (!principal) {
      void reply.header('www-authenticate', `Basic realm="${realm}"`);
      return deny(request, reply, 401, 'UNAUTHENTICATED', 'Admin credentials needed: HTTP Basic with an API key of scope admin as the password');
    }
    if (!hasScope(principal, 'admin')) {
      return deny(request, reply, 403, 'FORBIDDEN', 'This key lacks the scope admin');
    }
    return undefined;
  };
}
