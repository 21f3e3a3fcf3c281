interface DriverError {
  code?: string;
  errno?: number;
  message?: string;
}

/** The pg / mysql2 error behind a TypeORM QueryFailedError (or the error itself). */
function driverErrorOf(error: unknown): DriverError | undefined {
  return (error as { driverError?: DriverError } | undefined)?.driverError ?? (error as DriverError | undefined);
}

/** True for a unique-constraint violation on PostgreSQL (23505) or MySQL/MariaDB (1062). */
export function isUniqueViolation(error: unknown): boolean {
  const driverError = driverErrorOf(error);
  return driverError?.code === '23505' || driverError?.errno === 1062 || driverError?.code === 'ER_DUP_ENTRY';
}

/**
 * MySQL/MariaDB errors about the values sent, not the connection: column cannot be null, out of
 * range, wrong value, bad string, data too long, invalid JSON, CHECK failed, packet too large.
 */
const MYSQL_REJECTED_DATA = new Set([1048, 1264, 1292, 1366, 1406, 3140, 4025, 1153]);

/**
 * True when the database refused the statement for the data it carries (PostgreSQL SQLSTATE
 * classes 22 "data exception", 23 "integrity constraint violation" and 54 "program limit
 * exceeded"; their MySQL/MariaDB counterparts), so sending the same values again fails again.
 * Connection loss, timeouts, deadlocks and the like are false: those are worth retrying.
 */
export function isRejectedData(error: unknown): boolean {
  const driverError = driverErrorOf(error);
  if (typeof driverError?.code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(driverError.code)) return true;
  return typeof driverError?.errno === 'number' && MYSQL_REJECTED_DATA.has(driverError.errno);
}

/** Node socket errors that mean the server is not there (or stopped talking). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN']);

/** pg's and mysql2's own messages for a connection that broke, timed out or never came. */
const UNAVAILABLE_MESSAGES =
  /timeout exceeded when trying to connect|Connection terminated|Query read timeout|Client has encountered a connection error|Connection lost|Can't add new command when connection is in closed state|Pool is closed|the database system is (starting up|shutting down|in recovery mode)/i;

/**
 * True when the database could not be reached or did not answer in time, as opposed to
 * refusing the statement: the request may succeed later (503 DATABASE_UNAVAILABLE with
 * Retry-After), and nothing the statement wanted happened. PostgreSQL classes 08
 * (connection), 53 (insufficient resources), 57 (operator intervention: shutdown,
 * statement timeout) and their MySQL/MariaDB counterparts count, with network errors.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const driverError = driverErrorOf(error);
  if (!driverError) return false;
  const code = driverError.code;
  if (typeof code === 'string') {
    if (/^(08|53|57)[0-9A-Z]{3}$/.test(code)) return true;
    // A Node socket error (it names its syscall), not another service's error carrying a code.
    if (NETWORK_CODES.has(code) && 'syscall' in driverError && !('statusCode' in driverError)) return true;
    if (code.startsWith('PROTOCOL_') || code === 'ER_CON_COUNT_ERROR' || code === 'ER_SERVER_SHUTDOWN') return true;
  }
  // 1053 server shutdown, 1040 too many connections, 1205 lock wait timeout, 3024 statement timeout.
  if (typeof driverError.errno === 'number' && [1040, 1053, 1205, 3024, 1927].includes(driverError.errno)) return true;
  const message = (error as { message?: string }).message ?? driverError.message;
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message);
}

/**
 * True when the database aborted the transaction to break a deadlock or a serialization
 * conflict (PostgreSQL 40P01 / 40001, MySQL/MariaDB 1213): running it again is the remedy.
 */
export function isTransactionConflict(error: unknown): boolean {
  const driverError = driverErrorOf(error);
  return driverError?.code === '40P01' || driverError?.code === '40001' || driverError?.errno === 1213;
}
