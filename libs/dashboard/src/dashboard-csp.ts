import type { FastifyReply, FastifyRequest } from 'fastify';

const CSP = 'content-security-policy';

/** The policy minus `upgrade-insecure-requests`; every other directive stays as configured. */
export function withoutInsecureUpgrade(policy: string): string {
  return policy
    .split(';')
    .filter((directive) => directive.trim().toLowerCase() !== 'upgrade-insecure-requests')
    .join(';');
}

/**
 * An onSend hook that relaxes the global helmet CSP for the dashboard by exactly one
 * directive. Bull Board's page loads its scripts and styles from the board's own path (helmet's
 * defaults allow that), but `upgrade-insecure-requests` makes a browser fetch them over
 * https:// whenever the API is reached over plain HTTP by name or LAN address (loopback is
 * exempt), and the board stays blank. The JSON API keeps the full policy.
 */
export async function relaxDashboardCsp(_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  // helmet writes its headers on the raw response (getHeader reads those too); a header set
  // through `reply` wins over it when the response is written.
  const policy = reply.getHeader(CSP);
  if (typeof policy === 'string') void reply.header(CSP, withoutInsecureUpgrade(policy));
  return payload;
}
