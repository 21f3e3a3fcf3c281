import type { FastifyInstance } from 'fastify';
import { DomainError, type DomainErrorDetail } from '@conveyor/errors';

/**
 * The shape limits of any parsed request input (JSON body, form body, query, a JSON form field).
 * The byte limit alone does not bound the work: ten megabytes of JSON hold millions of values,
 * and layers behind the parser (class-transformer's copy is quadratic in an object's keys)
 * can take seconds or gigabytes over them.
 */
export interface JsonLimits {
  /** Deepest nesting; class-transformer, class-validator and JSON.stringify recurse. */
  maxDepth: number;
  /** Most keys in one object. */
  maxKeys: number;
  /** Most items in one array (a batch holds up to 1000 tasks). */
  maxArrayLength: number;
  /** Most values (objects, arrays, strings, numbers, …) in the whole input. */
  maxNodes: number;
}

export const DEFAULT_JSON_LIMITS: Readonly<JsonLimits> = { maxDepth: 64, maxKeys: 1000, maxArrayLength: 10_000, maxNodes: 100_000 };

/** Answer code of an input over maxKeys, maxArrayLength or maxNodes (413). */
export const JSON_LIMIT_EXCEEDED = 'JSON_LIMIT_EXCEEDED';

export interface JsonProblem extends DomainErrorDetail {
  field: string;
  /** A size limit (413 JSON_LIMIT_EXCEEDED) rather than input no layer can take (400 VALIDATION_FAILED). */
  tooLarge: boolean;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function stringProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'must be valid Unicode (it holds an unpaired surrogate)';
  return undefined;
}

interface Visit {
  value: unknown;
  depth: number;
  parent?: Visit;
  key?: string | number;
}

/** `a.b[0].c` of a visited value; built only for the one value that is refused. */
function pathOf(visit: Visit): string {
  const keys: Array<string | number> = [];
  for (let at: Visit | undefined = visit; at?.parent; at = at.parent) keys.push(at.key!);
  return keys.reverse().reduce<string>((path, key) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key), '');
}

/**
 * The first thing in a parsed input that the layers behind it cannot take, found in one walk
 * without recursion, before anything copies the input:
 * - more keys in an object, items in an array or values in all than `limits` allow;
 * - nesting deeper than `limits.maxDepth` (a few thousand levels overflow the stack: 500);
 * - the NUL character U+0000 in a string or key: PostgreSQL can store it neither in text nor
 *   in jsonb, so it would fail as a database error (500) wherever it reaches a query;
 * - an unpaired UTF-16 surrogate (JSON allows "\ud800"): not Unicode text at all; jsonb
 *   refuses it (500) and text columns would silently store U+FFFD instead.
 * Fields are paths inside `value` (`payload.list[1]`); '' is `value` itself.
 */
export function findUnsafeInput(value: unknown, limits: JsonLimits = DEFAULT_JSON_LIMITS): JsonProblem | undefined {
  const pending: Visit[] = [{ value, depth: 0 }];
  let nodes = 0;
  while (pending.length > 0) {
    const visit = pending.pop()!;
    nodes += 1;
    if (nodes > limits.maxNodes) {
      return { field: '', message: `holds more than ${limits.maxNodes} values in all`, tooLarge: true };
    }
    const current = visit.value;
    if (typeof current === 'string') {
      const problem = stringProblem(current);
      if (problem) return { field: pathOf(visit), message: problem, tooLarge: false };
      continue;
    }
    if (current === null || typeof current !== 'object' || ArrayBuffer.isView(current)) continue;
    if (visit.depth >= limits.maxDepth) {
      return { field: pathOf(visit).split(/[.[]/)[0], message: `is nested more than ${limits.maxDepth} levels deep`, tooLarge: false };
    }
    if (Array.isArray(current)) {
      if (current.length > limits.maxArrayLength) {
        return { field: pathOf(visit), message: `holds more than ${limits.maxArrayLength} items`, tooLarge: true };
      }
      for (let index = current.length - 1; index >= 0; index -= 1) {
        pending.push({ value: current[index], depth: visit.depth + 1, parent: visit, key: index });
      }
      continue;
    }
    // for…in stops at the limit; Object.keys would first list every key of a huge object.
    let keys = 0;
    for (const key in current) {
      if (!Object.hasOwn(current, key)) continue;
      keys += 1;
      if (keys > limits.maxKeys) return { field: pathOf(visit), message: `holds more than ${limits.maxKeys} keys`, tooLarge: true };
      const child: Visit = { value: (current as Record<string, unknown>)[key], depth: visit.depth + 1, parent: visit, key };
      const keyProblem = stringProblem(key);
      if (keyProblem) return { field: pathOf(child), message: `the name ${keyProblem}`, tooLarge: false };
      pending.push(child);
    }
  }
  return undefined;
}

/**
 * The client error for a problem findUnsafeInput found: 413 JSON_LIMIT_EXCEEDED for a size
 * limit, else 400 VALIDATION_FAILED. `field` names the checked input as a whole ("body").
 */
export function unsafeInputError(problem: JsonProblem, field: string): DomainError {
  const detail = { field: problem.field || field, message: problem.message };
  if (problem.tooLarge) {
    return new DomainError('too_large', JSON_LIMIT_EXCEEDED, 'The request is over a size limit', { details: [detail] });
  }
  return DomainError.invalid('VALIDATION_FAILED', 'The request is invalid', [detail]);
}

/** Throws unsafeInputError when `value` breaks a limit or holds what no layer can store. */
export function assertSafeInput(value: unknown, where: string, limits: JsonLimits = DEFAULT_JSON_LIMITS): void {
  const problem = findUnsafeInput(value, limits);
  if (problem) throw unsafeInputError(problem, where);
}

/**
 * Checks every request's parsed body (JSON or form) and query against `limits` once parsing is
 * done and before any handler, pipe or plugin route sees them: one linear walk, so a hostile
 * body costs no more than its parse.
 */
export function installInputLimits(fastify: FastifyInstance, limits: JsonLimits = DEFAULT_JSON_LIMITS): void {
  fastify.addHook('preValidation', async (request) => {
    if (request.body !== undefined && request.body !== null) assertSafeInput(request.body, 'body', limits);
    if (request.query !== undefined && request.query !== null) assertSafeInput(request.query, 'query', limits);
  });
}
