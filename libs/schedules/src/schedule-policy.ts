/** What happens to a tick while the schedule's previous run is unfinished. */
export const OVERLAP_POLICIES = ['allow', 'skip', 'queue-one'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** What happens to ticks whose time passed while no scheduler ran (downtime). */
export const MISSED_POLICIES = ['skip', 'run-once', 'catch-up'] as const;
export type MissedPolicy = (typeof MISSED_POLICIES)[number];

export const DEFAULT_CATCH_UP_LIMIT = 10;
export const MAX_CATCH_UP_LIMIT = 1000;

/** The tenant code-declared schedules belong to. */
export { SYSTEM_TENANT } from '@conveyor/http';

/** The task a schedule creates on each tick. */
export interface TaskTemplate {
  type: string;
  payload: Record<string, unknown>;
  priority?: number;
  timeoutMs?: number;
  tags?: string[];
}
