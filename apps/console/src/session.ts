import { call, type Scope, type Session } from './api';

/** The key lives in sessionStorage: this tab only, gone when it closes. */
const STORAGE = 'conveyor.console.session';

export function storedSession(): Session | null {
  const text = sessionStorage.getItem(STORAGE);
  if (!text) return null;
  try {
    return JSON.parse(text) as Session;
  } catch {
    return null;
  }
}

/** Checks the key with the API (`GET /v1/whoami`) and keeps it for the tab. */
export async function signIn(key: string): Promise<Session> {
  const who = await call<{ tenantId: string; scopes: Scope[] }>(key, 'GET', '/v1/whoami');
  const session: Session = { key, tenantId: who.tenantId, scopes: who.scopes };
  sessionStorage.setItem(STORAGE, JSON.stringify(session));
  return session;
}

export function signOut(): void {
  sessionStorage.removeItem(STORAGE);
}
