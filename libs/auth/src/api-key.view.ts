import type { Scope } from '@conveyor/http';

/** An API key as shown to operators (HTTP and `npm run keys -- list --json`): never its hash. */
export const apiKeyView = (key: { id: string; tenantId: string; scopes: Scope[]; prefix: string; name: string | null; createdAt: Date }) => ({
  id: key.id,
  tenant: key.tenantId,
  scopes: key.scopes,
  prefix: key.prefix,
  name: key.name,
  createdAt: key.createdAt.toISOString(),
});
