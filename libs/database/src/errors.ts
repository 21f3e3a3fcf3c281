/** True for a unique-constraint violation on PostgreSQL (23505) or MySQL/MariaDB (1062). */
export function isUniqueViolation(error: unknown): boolean {
  const driverError = (error as { driverError?: { code?: string; errno?: number } })?.driverError ?? (error as { code?: string; errno?: number });
  return driverError?.code === '23505' || driverError?.errno === 1062 || driverError?.code === 'ER_DUP_ENTRY';
}
