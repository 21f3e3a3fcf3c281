import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, hasScope, type Principal, PUBLIC_ROUTE, REQUIRED_SCOPES, type Scope } from '@conveyor/http';
import { ApiKeyService } from './api-key.service';

export type AuthenticatedRequest = FastifyRequest & { principal?: Principal; tenantId?: string };

/**
 * Every route needs `Authorization: Bearer <key>` unless marked @Public(); routes marked
 * @RequireScopes need those scopes. Sets the caller's tenant on the request, which is what
 * every ledger query is scoped by.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeyService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S{1,512})\s*$/i.exec(header) : null;
    if (!match) throw this.unauthenticated(context, 'Missing bearer API key');
    const principal = await this.keys.verify(match[1]);
    if (!principal) throw this.unauthenticated(context, 'Invalid or revoked API key');

    const required = this.reflector.getAllAndOverride<Scope[]>(REQUIRED_SCOPES, targets) ?? [];
    const missing = required.filter((scope) => !hasScope(principal, scope));
    if (missing.length > 0) {
      throw new ApiError(HttpStatus.FORBIDDEN, 'FORBIDDEN', `This key lacks the scope ${missing.join(', ')}`, [
        { field: 'scopes', message: `required: ${required.join(', ')}` },
      ]);
    }
    request.principal = principal;
    request.tenantId = principal.tenantId;
    return true;
  }

  private unauthenticated(context: ExecutionContext, message: string): ApiError {
    void context.switchToHttp().getResponse<FastifyReply>().header('www-authenticate', 'Bearer');
    return new ApiError(HttpStatus.UNAUTHORIZED, 'UNAUTHENTICATED', message);
  }
}
