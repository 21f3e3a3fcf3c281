/**
 * What a flow node's failure (failed, cancelled or expired) does to its parent:
 * - `fail-parent`: the parent fails at once (CHILD_FAILED); its other children run on.
 * - `cancel-siblings`: the parent fails at once and its unfinished children are cancelled.
 * - `ignore`: the parent runs once its other children are done, as if this one had not been
 *   there (`ctx.children()` leaves it out).
 * - `continue`: the parent runs once its other children are done and sees this one's failure
 *   (`ctx.children()` lists it with its status and error).
 */
export const FLOW_POLICIES = ['fail-parent', 'ignore', 'continue', 'cancel-siblings'] as const;

export type FlowPolicy = (typeof FLOW_POLICIES)[number];

export const DEFAULT_FLOW_POLICY: FlowPolicy = 'fail-parent';

/** Policies under which a child's failure ends its parent at once. */
export function failsParent(policy: FlowPolicy): boolean {
  return policy === 'fail-parent' || policy === 'cancel-siblings';
}
