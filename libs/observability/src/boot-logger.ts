import pino from 'pino';
import type { AppConfig } from '@conveyor/config';

/**
 * Logs the same JSON lines as the app's logger before Nest (and its logger) exists, e.g. while
 * waiting for dependencies at start.
 */
export function bootLogger(config: AppConfig): (message: string, fields?: Record<string, unknown>) => void {
  const logger = pino({ level: config.logLevel, base: { service: process.env.CONVEYOR_SERVICE ?? 'conveyor', context: 'Startup' } });
  return (message, fields = {}) => logger.info(fields, message);
}
