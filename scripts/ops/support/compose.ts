import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './dockerfile';

/**
 * Loads a Compose file the way `docker compose config` reads it, for tests without the Compose
 * plugin: YAML merge keys (`<<: *anchor`) resolved, then `${VAR}` interpolation with the
 * `:-`/`-` defaults, `:?`/`?` required values and `$$` escapes of the Compose spec.
 */

export class MissingVariableError extends Error {}

export function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^{}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, name?: string, op?: string, arg?: string, bare?: string) => {
      if (match === '$$') return '$';
      if (bare) return env[bare] ?? '';
      const value = env[name!];
      const unset = op?.startsWith(':') ? !value : value === undefined;
      if (!op || !unset) return value ?? '';
      if (op.endsWith('-')) return interpolate(arg ?? '', env);
      throw new MissingVariableError(`required variable ${name} is missing a value: ${arg}`);
    },
  );
}

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[] | string;
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] | string; interval?: string; timeout?: string; retries?: number; start_period?: string };
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
  deploy?: { replicas?: number | string };
  stop_grace_period?: string;
  restart?: string;
  container_name?: string;
  [key: string]: unknown;
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  [key: string]: unknown;
}

export function loadCompose(file: string, env: Record<string, string | undefined>): ComposeFile {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const document = parse(text, { merge: true }) as ComposeFile;
  // Interpolate values (not keys), as Compose does, after YAML has been parsed.
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return interpolate(value, env);
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  const resolved = walk(document) as ComposeFile;
  // Drop the `x-` extension fields: anchors only, not part of the model.
  for (const key of Object.keys(resolved)) if (key.startsWith('x-')) delete resolved[key];
  return resolved;
}

/** "1m30s", "45s", "1500ms" → milliseconds (Compose duration strings). */
export function durationMs(text: string): number {
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)/g)) {
    total += Number(amount) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, ns: 0.000001 }[unit as 'h'];
  }
  return total;
}
