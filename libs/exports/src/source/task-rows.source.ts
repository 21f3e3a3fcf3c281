import type { DataSource } from 'typeorm';
import { dialectOf, type SqlDialect } from '@conveyor/database';
import { parseInstant } from '@conveyor/tasks';
import type { Cell, CellKind, ExportColumn } from '../encoding/row-encoder';
import { TASK_EXPORT_FIELDS, type TaskExportField, type TaskExportFiltersDto } from '../exports.contract';

/** Rows per keyset page: large enough that round trips do not dominate, small enough to keep memory flat. */
export const TASK_PAGE_SIZE = 5000;

type ColumnShape = 'text' | 'uuid' | 'number' | 'json' | 'time';

const COLUMNS: Record<TaskExportField, [column: string, shape: ColumnShape]> = {
  id: ['id', 'uuid'],
  type: ['type', 'text'],
  queue: ['queue', 'text'],
  status: ['status', 'text'],
  priority: ['priority', 'number'],
  payload: ['payload', 'json'],
  result: ['result', 'json'],
  error: ['error', 'json'],
  progress: ['progress', 'json'],
  attempts: ['attempts', 'number'],
  maxAttempts: ['max_attempts', 'number'],
  timeoutMs: ['timeout_ms', 'number'],
  idempotencyKey: ['idempotency_key', 'text'],
  tags: ['tags', 'json'],
  createdAt: ['created_at', 'time'],
  updatedAt: ['updated_at', 'time'],
  scheduledFor: ['scheduled_for', 'time'],
  expiresAt: ['expires_at', 'time'],
  startedAt: ['started_at', 'time'],
  finishedAt: ['finished_at', 'time'],
  workerId: ['worker_id', 'text'],
  parentId: ['parent_id', 'text'],
  rootId: ['root_id', 'text'],
  scheduleId: ['schedule_id', 'text'],
};

/**
 * The database writes each value as the text the file wants (ISO 8601 UTC times, JSON as JSON
 * text), so the export only concatenates: the formatting runs on the database's core, in parallel
 * with the encoding here.
 */
function selectExpression(dialect: SqlDialect, column: string, shape: ColumnShape): string {
  const ref = `t.${column}`;
  if (dialect === 'postgres') {
    if (shape === 'time') return `to_char(${ref} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
    if (shape === 'json' || shape === 'uuid') return `${ref}::text`;
    return ref;
  }
  if (shape === 'time') return `CONCAT(LEFT(DATE_FORMAT(${ref}, '%Y-%m-%dT%H:%i:%s.%f'), 23), 'Z')`;
  return ref;
}

/** Ids and times (written by the database as ISO 8601) never need escaping: `plain` cells. */
const CELL_KINDS: Record<ColumnShape, CellKind> = { text: 'text', uuid: 'plain', number: 'number', json: 'json', time: 'plain' };
const cellKind = (shape: ColumnShape): CellKind => CELL_KINDS[shape];

export function taskExportColumns(fields: readonly TaskExportField[] = TASK_EXPORT_FIELDS): ExportColumn[] {
  return fields.map((field) => ({ name: field, kind: cellKind(COLUMNS[field][1]) }));
}

/** A filter as SQL with its parameters, in either dialect's placeholder style. */
class Where {
  readonly clauses: string[] = [];
  readonly params: unknown[] = [];

  constructor(private readonly dialect: SqlDialect) {}

  add(clause: (placeholder: string) => string, value: unknown): void {
    this.params.push(value);
    this.clauses.push(clause(this.dialect === 'postgres' ? `$${this.params.length}` : '?'));
  }
}

/**
 * Reads a tenant's tasks for an export: the filters of `GET /v1/tasks` and a creation-time
 * range, oldest first, by a keyset cursor on the time-ordered id (each page starts after the
 * last id of the one before, through the tenant-led indexes), never OFFSET and never the whole set.
 */
export class TaskRowsSource {
  private readonly dialect: SqlDialect;
  private readonly fields: readonly TaskExportField[];

  constructor(
    private readonly dataSource: DataSource,
    private readonly tenantId: string,
    private readonly filters: TaskExportFiltersDto = {},
    private readonly pageSize = TASK_PAGE_SIZE,
  ) {
    this.dialect = dialectOf(dataSource);
    this.fields = filters.fields ?? TASK_EXPORT_FIELDS;
  }

  columns(): ExportColumn[] {
    return taskExportColumns(this.fields);
  }

  /** The number of matching rows now, for progress (rows created later in the range are still exported). */
  async count(): Promise<number> {
    const where = this.where();
    const [row] = await this.dataSource.query<Array<{ n: string | number }>>(
      `SELECT COUNT(*) AS n FROM tasks t WHERE ${where.clauses.join(' AND ')}`,
      where.params,
    );
    return Number(row.n);
  }

  /**
   * Pages of cells in the order of columns(). Each page is one keyset query on one connection
   * held for the export, rows as arrays of the database's text (no per-row objects, no parsing
   * of values the file wants as text anyway). The next page is asked for while the caller works
   * on this one, so the database and the encoder overlap; at most two pages are held.
   */
  async *pages(signal?: AbortSignal): AsyncGenerator<Cell[][]> {
    const select = this.fields.map((field) => {
      const [column, shape] = COLUMNS[field];
      return selectExpression(this.dialect, column, shape);
    });
    // The keyset is the id: its own cell when the export has it (one string less to parse per row), else one more column.
    const width = select.length;
    let keyAt = this.fields.indexOf('id');
    if (keyAt < 0) {
      keyAt = width;
      select.push(this.dialect === 'postgres' ? 't.id::text' : 't.id');
    }
    // MySQL's own JSON type comes back parsed (MariaDB's is text); PostgreSQL sends text.
    const jsonAt = this.dialect === 'postgres' ? [] : this.fields.flatMap((field, c) => (COLUMNS[field][1] === 'json' ? [c] : []));
    const runner = this.dataSource.createQueryRunner('slave');
    const query = rawArrayQuery(this.dialect, await runner.connect());
    const fetch = (after: string | undefined): Promise<Cell[][]> => {
      const where = this.where();
      if (after !== undefined) where.add((p) => `t.id > ${p}`, after);
      return query(`SELECT ${select.join(', ')} FROM tasks t WHERE ${where.clauses.join(' AND ')} ORDER BY t.id LIMIT ${this.pageSize}`, where.params);
    };

    let next: Promise<Cell[][]> | undefined = fetch(undefined);
    try {
      while (next) {
        signal?.throwIfAborted();
        const rows: Cell[][] = await next;
        // Ids come as text in both dialects.
        next = rows.length === this.pageSize ? fetch(rows[rows.length - 1][keyAt] as string) : undefined;
        // A prefetch the caller no longer wants (it stopped) must not surface as an unhandled rejection.
        next?.catch(() => undefined);
        // An added key column is taken off: the row is the page's cells.
        if (keyAt === width) for (const row of rows) row.length = width;
        // The encoders want JSON text.
        if (jsonAt.length > 0)
          for (const row of rows) for (const c of jsonAt) if (row[c] !== null && typeof row[c] !== 'string') row[c] = JSON.stringify(row[c]);
        yield rows;
      }
    } finally {
      await next?.catch(() => undefined);
      await runner.release();
    }
  }

  private where(): Where {
    const where = new Where(this.dialect);
    const filters = this.filters;
    where.add((p) => `t.tenant_id = ${p}`, this.tenantId);
    if (filters.type) where.add((p) => `t.type = ${p}`, filters.type);
    if (filters.status) where.add((p) => `t.status = ${p}`, filters.status);
    if (filters.parentId) where.add((p) => `t.parent_id = ${p}`, filters.parentId);
    if (filters.rootId) where.add((p) => `t.root_id = ${p}`, filters.rootId);
    if (filters.scheduleId) where.add((p) => `t.schedule_id = ${p}`, filters.scheduleId);
    if (filters.createdFrom) where.add((p) => `t.created_at >= ${p}`, new Date(parseInstant(filters.createdFrom)!));
    if (filters.createdTo) where.add((p) => `t.created_at < ${p}`, new Date(parseInstant(filters.createdTo)!));
    if (filters.tag) {
      const tag = JSON.stringify([filters.tag]);
      where.add((p) => (this.dialect === 'postgres' ? `t.tags @> CAST(${p} AS jsonb)` : `JSON_CONTAINS(t.tags, ${p})`), tag);
    }
    return where;
  }
}

/** Every value as the text PostgreSQL sent (numbers included): the encoders write them as they are. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

type ArrayQuery = (sql: string, params: unknown[]) => Promise<Cell[][]>;

/**
 * A query on the driver's own connection (node-postgres or mysql2, as TypeORM's query runner
 * holds it) that returns rows as arrays.
 */
function rawArrayQuery(dialect: SqlDialect, connection: unknown): ArrayQuery {
  if (dialect === 'postgres') {
    const client = connection as { query(config: object): Promise<{ rows: Cell[][] }> };
    return async (sql, params) => (await client.query({ text: sql, values: params, rowMode: 'array', types: RAW_TEXT })).rows;
  }
  const pooled = connection as { query(options: object, callback: (error: Error | null, rows: Cell[][]) => void): void };
  return (sql, params) =>
    new Promise((resolve, reject) => pooled.query({ sql, values: params, rowsAsArray: true }, (error, rows) => (error ? reject(error) : resolve(rows))));
}
