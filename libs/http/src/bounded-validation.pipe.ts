import { ValidationPipe, type ArgumentMetadata } from '@nestjs/common';
import { ApiError, type ApiErrorDetail } from './api-error';

/** Deeper than any real body needs: a batch item's payload still gets ~60 levels. */
export const MAX_INPUT_DEPTH = 64;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function stringProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'must be valid Unicode (it holds an unpaired surrogate)';
  return undefined;
}

const joinPath = (parent: string, key: string | number) =>
  typeof key === 'number' ? `${parent}[${key}]` : parent ? `${parent}.${key}` : key;

/**
 * The first thing in a parsed request body or query that the layers behind the pipe cannot
 * take, found without recursion:
 * - nesting deeper than MAX_INPUT_DEPTH: class-transformer, class-validator and JSON.stringify
 *   recurse, and a few thousand levels (a few hundred for a batch) overflow the stack (500);
 * - the NUL character U+0000 in a string or key: PostgreSQL can store it neither in text nor
 *   in jsonb, so it would fail as a database error (500) wherever it reaches a query;
 * - an unpaired UTF-16 surrogate (JSON allows "\ud800"): not Unicode text at all; jsonb
 *   refuses it (500) and text columns would silently store U+FFFD instead.
 */
export function findUnsafeInput(value: unknown, maxDepth = MAX_INPUT_DEPTH): ApiErrorDetail | undefined {
  const pending: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: '', depth: 0 }];
  while (pending.length > 0) {
    const item = pending.pop()!;
    if (typeof item.value === 'string') {
      const problem = stringProblem(item.value);
      if (problem) return { field: item.path, message: problem };
      continue;
    }
    if (item.value === null || typeof item.value !== 'object' || ArrayBuffer.isView(item.value)) continue;
    if (item.depth >= maxDepth) {
      return { field: item.path.split(/[.[]/)[0], message: `is nested more than ${maxDepth} levels deep` };
    }
    const entries: Array<[string | number, unknown]> = Array.isArray(item.value) ? item.value.map((v, i) => [i, v]) : Object.entries(item.value);
    for (const [key, child] of entries) {
      const path = joinPath(item.path, key);
      const keyProblem = typeof key === 'string' ? stringProblem(key) : undefined;
      if (keyProblem) return { field: path, message: `the name ${keyProblem}` };
      pending.push({ value: child, path, depth: item.depth + 1 });
    }
  }
  return undefined;
}

/** The global ValidationPipe, refusing (400) bodies and queries that findUnsafeInput flags. */
export class BoundedValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' || metadata.type === 'query') {
      const problem = findUnsafeInput(value);
      if (problem) {
        throw ApiError.badRequest('VALIDATION_FAILED', 'The request is invalid', [{ ...problem, field: problem.field || metadata.type }]);
      }
    }
    return super.transform(value, metadata);
  }
}
