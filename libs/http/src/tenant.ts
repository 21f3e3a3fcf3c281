import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

export const DEFAULT_TENANT = 'default';

/**
 * The caller's tenant. Until API keys land every caller is the default tenant; the auth guard
 * will set `request.tenantId`, and every ledger query already takes the tenant from here.
 */
export const CurrentTenant = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const request = context.switchToHttp().getRequest<{ tenantId?: string }>();
  return request.tenantId ?? DEFAULT_TENANT;
});
