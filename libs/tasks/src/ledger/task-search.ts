import { Brackets, type SelectQueryBuilder } from 'typeorm';
import type { SqlDialect } from '@conveyor/database';
import type { TaskEntity } from './task.entity';

/**
 * Search terms of a task list beyond the equality filters. Task ids are UUIDv7 (the first 48
 * bits are the creation time in ms), so a time range is an id range and is served by the same
 * `(tenant_id, …, id)` indexes as the paging, with no index on `created_at`.
 */
export interface TaskSearchTerms {
  /** Created at or after this instant. */
  createdAfter?: Date;
  /** Created before this instant. */
  createdBefore?: Date;
  /** Case-insensitive substring of the payload, result or error JSON. */
  text?: string;
  /** The error's machine-readable code (the failed inbox's groups). */
  errorCode?: string;
  /** Inclusive lower bound on id: where a text search's scan window ends. */
  atLeast?: string;
}

/** The smallest UUIDv7 of the given millisecond: every id created then or later sorts at or above it. */
export function firstIdAt(instant: Date): string {
  const ms = Math.min(Math.max(instant.getTime(), 0), 2 ** 48 - 1);
  const hex = ms.toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

/** A LIKE pattern matching `text` anywhere, with its own `%`, `_` and `\` taken literally. */
export function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The `code` of a task's error JSON, as SQL over `tasks` aliased `t`. */
export function errorCodeSql(dialect: SqlDialect): string {
  return dialect === 'postgres' ? "(t.error ->> 'code')" : "JSON_UNQUOTE(JSON_EXTRACT(t.error, '$.code'))";
}

/** Adds the search terms to a query over `tasks` aliased `t`. */
export function applySearchTerms(query: SelectQueryBuilder<TaskEntity>, terms: TaskSearchTerms, dialect: SqlDialect): void {
  const lowers = [terms.atLeast, terms.createdAfter && firstIdAt(terms.createdAfter)].filter((id): id is string => !!id);
  if (lowers.length > 0) query.andWhere('t.id >= :lowestId', { lowestId: lowers.sort().at(-1) });
  if (terms.createdBefore) query.andWhere('t.id < :createdBeforeId', { createdBeforeId: firstIdAt(terms.createdBefore) });
  if (terms.errorCode) query.andWhere(`${errorCodeSql(dialect)} = :errorCode`, { errorCode: terms.errorCode });
  if (terms.text) {
    // JSON as text, lower-cased on both sides: PostgreSQL's ILIKE, and MySQL's binary collation
    // of these columns (utf8mb4_bin) would otherwise make the search case-sensitive.
    const asText = (column: string) => (dialect === 'postgres' ? `LOWER(CAST(${column} AS text))` : `LOWER(CAST(${column} AS CHAR))`);
    const pattern = containsPattern(terms.text);
    query.andWhere(
      new Brackets((where) =>
        where
          .where(`${asText('t.payload')} LIKE :pattern`, { pattern })
          .orWhere(`${asText('t.result')} LIKE :pattern`, { pattern })
          .orWhere(`${asText('t.error')} LIKE :pattern`, { pattern }),
      ),
    );
  }
}
