import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply } from 'fastify';
import { ApiError, hasScope, PUBLIC_ROUTE, REQUIRED_SCOPES, type Scope } from '@conveyor/http';
import type { AuthenticatedRequest } from './api-key-authenticator';

/**
 * Enforces @RequireScopes on the principal ApiKeyAuthenticator attached before the body was
 * read; routes marked @Public() pass. A route that reaches here without a principal was
 * never authenticated (the hook was not installed): it is refused, never let through.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
    if (!principal) {
      void context.switchToHttp().getResponse<FastifyReply>().header('www-authenticate', 'Bearer');
      throw new ApiError(HttpStatus.UNAUTHORIZED, 'UNAUTHENTICATED', 'Missing bearer API key');
    }
    const required = this.reflector.getAllAndOverride<Scope[]>(REQUIRED_SCOPES, targets) ?? [];
    const missing = required.filter((scope) => !hasScope(principal, scope));
    if (missing.length > 0) {
      throw new ApiError(HttpStatus.FORBIDDEN, 'FORBIDDEN', `This key lacks the scope ${missing.join(', ')}`, [
        { field: 'scopes', message: `required: ${required.join(', ')}` },
      ]);
    }
    return true;
  }
}
