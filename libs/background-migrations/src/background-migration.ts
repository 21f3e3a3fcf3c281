import type { Logger } from 'pino';
import type { EntityManager } from 'typeorm';
import type { SqlDialect } from '@conveyor/database';

/** A key of the source table as the driver returns it (a uuid or text key, or an integer). */
export type BatchKey = string | number;

/** The rows of one batch: keys in ascending order, after the last checkpoint. */
export interface MigrationBatch {
  /** 1 for the first batch of the migration. */
  number: number;
  /** The checkpoint before this batch (exclusive); null for the first batch. */
  after: BatchKey | null;
  /** The last key of this batch (inclusive): the checkpoint once it commits. */
  last: BatchKey;
  /** Every key of the batch, ascending; at most `batchSize`. */
  keys: BatchKey[];
}

/** What `up` gets besides its batch. */
export interface MigrationContext {
  /** The batch's transaction: write through it, so the work commits with the checkpoint or not at all. */
  readonly manager: EntityManager;
  readonly dialect: SqlDialect;
  /** Fires when the step is stopped (timeout, shutdown); the transaction then rolls back. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

/** Where a migration's batches come from: a table walked by a unique, ordered key. */
export interface MigrationSource {
  table: string;
  /** A unique, never-updated column compared with `>` (a primary key). */
  key: string;
  /**
   * Optional SQL condition (no user input) narrowing the rows; batches are the rows that
   * match it, in key order. `up` must repeat it if it writes by key range.
   */
  where?: string;
}

export interface BackgroundMigrationDefinition {
  readonly name: string;
  readonly description: string;
  readonly source: MigrationSource;
  readonly batchSize: number;
  /** Least time between the end of a batch and the start of the next. */
  readonly pauseMs: number;
  /** Rows per second at most, over pauses included; undefined: no limit beyond pauseMs. */
  readonly maxRowsPerSecond?: number;
  /** Batches that may fail in a row before the migration is `failed` (each retried after a backoff). */
  readonly maxConsecutiveFailures: number;
  /** Does one batch's work in its transaction. */
  up(this: void, batch: MigrationBatch, context: MigrationContext): Promise<void>;
}

const NAME = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True for a string that can name a migration (any other cannot have a row: no query needed). */
export function isMigrationName(name: string): boolean {
  return name.length <= 128 && NAME.test(name);
}

/** Every migration declared in this process, by name (a process-wide list, like the code that declares them). */
const declared = new Map<string, BackgroundMigrationDefinition>();

/**
 * Declares a background migration and adds it to this process's list. Declaring a name twice
 * throws: the name is the key of its state in SQL. A lib declares its migrations in files its
 * index imports, so the API, the worker and the CLI all know the same ones.
 */
export function defineBackgroundMigration(definition: {
  name: string;
  description: string;
  source: MigrationSource;
  batchSize: number;
  pauseMs?: number;
  maxRowsPerSecond?: number;
  maxConsecutiveFailures?: number;
  up(this: void, batch: MigrationBatch, context: MigrationContext): Promise<void>;
}): BackgroundMigrationDefinition {
  const { name, source } = definition;
  if (!NAME.test(name) || name.length > 128) throw new Error(`Background migration "${name}" must look like "domain.what" (lowercase, at most 128 characters)`);
  if (!IDENTIFIER.test(source.table) || !IDENTIFIER.test(source.key))
    throw new Error(`Background migration "${name}": table and key must be plain identifiers`);
  if (!Number.isInteger(definition.batchSize) || definition.batchSize < 1 || definition.batchSize > 100_000) {
    throw new Error(`Background migration "${name}": batchSize must be an integer from 1 to 100000`);
  }
  if (definition.maxRowsPerSecond !== undefined && !(definition.maxRowsPerSecond > 0)) {
    throw new Error(`Background migration "${name}": maxRowsPerSecond must be positive`);
  }
  if (declared.has(name)) throw new Error(`Background migration "${name}" is declared twice`);
  const frozen: BackgroundMigrationDefinition = Object.freeze({
    name,
    description: definition.description,
    source: Object.freeze({ ...source }),
    batchSize: definition.batchSize,
    pauseMs: Math.max(0, definition.pauseMs ?? 0),
    maxRowsPerSecond: definition.maxRowsPerSecond,
    maxConsecutiveFailures: definition.maxConsecutiveFailures ?? 3,
    up: definition.up,
  });
  declared.set(name, frozen);
  return frozen;
}

/** The migrations declared in this process, by name. */
export function declaredMigrations(): BackgroundMigrationDefinition[] {
  return [...declared.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function declaredMigration(name: string): BackgroundMigrationDefinition | undefined {
  return declared.get(name);
}
