import type { EndpointFilter } from '../store/webhook-endpoint.entity';

/** Whether a subscription pattern (`task.completed`, `task.*`, `*`) covers an event type. */
export function patternMatches(pattern: string, type: string): boolean {
  if (pattern === '*' || pattern === type) return true;
  return pattern.endsWith('.*') && type.startsWith(pattern.slice(0, -1));
}

export function subscribes(patterns: readonly string[], type: string): boolean {
  return patterns.some((pattern) => patternMatches(pattern, type));
}

/** Whether a task passes an endpoint's filter; an unknown type or tags (not given) pass. */
export function filterAccepts(filter: EndpointFilter | null, task: { type?: string; tags?: string[] | null }): boolean {
  if (!filter) return true;
  if (filter.taskTypes?.length && task.type !== undefined && !filter.taskTypes.includes(task.type)) return false;
  if (filter.tags?.length && task.tags !== undefined && !(task.tags ?? []).some((tag) => filter.tags!.includes(tag))) return false;
  return true;
}
