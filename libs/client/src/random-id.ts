/** A random UUID from the platform's Web Crypto (Node ≥ 19 and browsers have it as a global). */
export function randomUUID(): string {
  return globalThis.crypto.randomUUID();
}
