interface DriverError {
  code?: string;
  errno?: number;
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
