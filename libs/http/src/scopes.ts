import { SetMetadata } from '@nestjs/common';

export const SCOPES = ['tasks:read', 'tasks:write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const REQUIRED_SCOPES = 'conveyor:required-scopes';
export const PUBLIC_ROUTE = 'conveyor:public-route';

/** The caller's key must carry every listed scope (`admin` carries them all). */
export const RequireScopes = (...scopes: Scope[]) => SetMetadata(REQUIRED_SCOPES, scopes);

/** No key needed: probes, metrics and the API docs. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** Who is calling, once the guard has checked the key. */
export interface Principal {
  keyId: string;
  tenantId: string;
  scopes: readonly Scope[];
}

export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes('admin') || principal.scopes.includes(scope);
}
