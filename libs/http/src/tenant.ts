import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { hasScope, type Principal } from './scopes';

export const DEFAULT_TENANT = 'default';

/** The tenant of code-declared schedules and of the housekeeping tasks; only an admin key reads it. */
export const SYSTEM_TENANT = 'system';

/**
 * The caller's tenant. Until API keys land every caller is the default tenant; the auth guard
 * will set `request.tenantId`, and every ledger query already takes the tenant from here.
 */
export const CurrentTenant = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const request = context.switchToHttp().getRequest<{ tenantId?: string }>();
  return request.tenantId ?? DEFAULT_TENANT;
});

/**
 * The tenants whose records the caller may read: its own, and for an `admin` key also the
 * system tenant's (code-declared schedules and the housekeeping runs they create).
 */
export const ReadableTenants = createParamDecorator((_data: unknown, context: ExecutionContext): string[] => {
  const request = context.switchToHttp().getRequest<{ tenantId?: string; principal?: Principal }>();
  const own = request.tenantId ?? DEFAULT_TENANT;
  return request.principal && hasScope(request.principal, 'admin') && own !== SYSTEM_TENANT ? [own, SYSTEM_TENANT] : [own];
});
