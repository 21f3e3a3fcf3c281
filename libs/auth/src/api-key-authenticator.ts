import { HttpStatus, Inject, Injectable, Optional } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { ApiError, type Principal } from '@conveyor/http';
import { TaskMetrics } from '@conveyor/observability';
import { ApiKeyService } from './api-key.service';
import { RedisThrottlerStorage } from './redis-throttler.storage';
import { declareRouteAuth, routeAuthOf } from './route-auth';

export type AuthenticatedRequest = FastifyRequest & { principal?: Principal; tenantId?: string };

const BEARER = /^Bearer\s+(\S{1,512})\s*$/i;
const FAILURES = 'auth-failures';
const FAILURE_WINDOW_MS = 60_000;

/** The key of `Authorization: Bearer <key>`, or undefined. */
export function bearerKey(header: string | undefined): string | undefined {
  return typeof header === 'string' ? BEARER.exec(header)?.[1] : undefined;
}

/**
 * The one owner of authentication. It runs as a Fastify onRequest hook, before the body is
 * read: a request without a valid key is answered 401 at once, whatever body it announces
 * (a slow or huge body then costs nothing but the drain). It attaches the caller's principal
 * and tenant to the request; ApiKeyGuard enforces scopes from them.
 *
 * Failed attempts are counted per client address in Redis (AUTH_FAILURES_PER_MINUTE); over
 * the limit an address gets 429 RATE_LIMITED before any key is looked up in the database. A
 * key the process already knows to be valid is still accepted from a blocked address: the
 * block stops guessing and lookups, not callers with a working key.
 */
@Injectable()
export class ApiKeyAuthenticator {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: ApiKeyService,
    private readonly counters: RedisThrottlerStorage,
    @Optional() private readonly metrics?: TaskMetrics,
  ) {}

  /** Declares each controller route's policy and registers the hook; call before listen. */
  install(app: NestFastifyApplication): void {
    declareRouteAuth(app);
    app
      .getHttpAdapter()
      .getInstance()
      .addHook('onRequest', (request, reply) => this.onRequest(request, reply));
  }

  /** The onRequest hook: only routes declared `api-key` (see route-auth.ts) are its concern. */
  async onRequest(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (routeAuthOf(request) !== 'api-key') return;
    const presented = bearerKey(request.headers.authorization);
    const principal = await this.authenticate(request, reply, presented);
    if (!principal) {
      void reply.header('www-authenticate', 'Bearer');
      throw new ApiError(HttpStatus.UNAUTHORIZED, 'UNAUTHENTICATED', presented === undefined ? 'Missing bearer API key' : 'Invalid or revoked API key');
    }
    const authenticated = request as AuthenticatedRequest;
    authenticated.principal = principal;
    authenticated.tenantId = principal.tenantId;
  }

  /**
   * The principal of a presented key (undefined: none presented), or null once the failure is
   * counted against the request's address. Throws 429 RATE_LIMITED (with Retry-After) when the
   * address is over its failure limit. Also used by the dashboard's Basic auth.
   */
  async authenticate(request: FastifyRequest, reply: FastifyReply, presented: string | undefined): Promise<Principal | null> {
    let principal = presented === undefined ? null : this.keys.peek(presented);
    if (principal === undefined) {
      await this.refuseIfBlocked(request, reply);
      principal = await this.keys.verify(presented!);
    }
    if (principal) return principal;
    await this.countFailure(request, reply);
    this.metrics?.authFailure(presented === undefined ? 'missing' : 'invalid');
    return null;
  }

  private get limit(): number {
    return this.config.security.authFailuresPerMinute;
  }

  private async refuseIfBlocked(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (this.limit === 0) return;
    const blockedMs = await this.counters.blockedFor(`ip:${request.ip}`, FAILURES);
    if (blockedMs > 0) this.tooMany(reply, blockedMs);
  }

  private async countFailure(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (this.limit === 0) return;
    const record = await this.counters.increment(`ip:${request.ip}`, FAILURE_WINDOW_MS, this.limit, FAILURE_WINDOW_MS, FAILURES);
    if (record.isBlocked) this.tooMany(reply, record.timeToBlockExpire * 1000);
  }

  private tooMany(reply: FastifyReply, blockedMs: number): never {
    this.metrics?.authFailure('rate_limited');
    void reply.header('retry-after', String(Math.max(1, Math.ceil(blockedMs / 1000))));
    throw new ApiError(HttpStatus.TOO_MANY_REQUESTS, 'RATE_LIMITED', 'Too many failed authentications from this address; see Retry-After');
  }
}
