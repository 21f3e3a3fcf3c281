/** The console's only way to the API: same origin, the signed-in key as a bearer token. */

import type { TaskView as ClientTaskView } from '../../../libs/client/src/index';

export type Scope = 'tasks:read' | 'tasks:write' | 'admin';

export interface Session {
  key: string;
  tenantId: string;
  scopes: Scope[];
}

/** A task as the API shows it: the client SDK's type (one description of the view), with a detail's children. */
export type TaskView = ClientTaskView & {
  children?: Array<{ id: string; type: string; status: string }>;
  moreChildren?: boolean;
};

export interface TaskPage {
  tasks: TaskView[];
  nextCursor: string | null;
}

export const TERMINAL = ['completed', 'failed', 'cancelled', 'expired'];
export const STATUSES = ['scheduled', 'queued', 'active', 'retrying', 'completed', 'failed', 'cancelled', 'expired'];

/** An answer other than 2xx, with the API's machine-readable code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function can(session: Session, scope: Scope): boolean {
  return session.scopes.includes('admin') || session.scopes.includes(scope);
}

export async function call<T>(key: string, method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const json: unknown = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? response.statusText);
  }
  return json as T;
}

/** Query string of the set fields only. */
export function query(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}

export interface TaskEvent {
  event: string;
  data: Partial<TaskView> & Record<string, unknown>;
}

/**
 * Follows `GET /v1/tasks/:id/events`. EventSource cannot send an Authorization header, so the
 * stream is read with fetch; a dropped stream is resumed with `Last-Event-ID` until the task is
 * terminal or the caller aborts.
 */
export async function followEvents(key: string, id: string, onEvent: (event: TaskEvent) => void, signal: AbortSignal): Promise<void> {
  let lastEventId: string | undefined;
  let finished = false;
  while (!signal.aborted && !finished) {
    try {
      const headers: Record<string, string> = { authorization: `Bearer ${key}`, accept: 'text/event-stream' };
      if (lastEventId) headers['last-event-id'] = lastEventId;
      const response = await fetch(`/v1/tasks/${id}/events`, { headers, signal });
      if (!response.ok || !response.body) throw new ApiError(response.status, `HTTP_${response.status}`, 'event stream refused');
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = parseBlock(block);
          if (fields.id) lastEventId = fields.id;
          if (!fields.event || fields.data === undefined) continue;
          const event = { event: fields.event, data: JSON.parse(fields.data) as TaskEvent['data'] };
          onEvent(event);
          if (typeof event.data.status === 'string' && TERMINAL.includes(event.data.status)) finished = true;
        }
      }
      // The server closes the stream once the task is terminal.
      finished = true;
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status < 500 && error.status !== 429) return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function parseBlock(block: string): { id?: string; event?: string; data?: string } {
  const fields: { id?: string; event?: string; data?: string } = {};
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^ /, '');
    if (name === 'id') fields.id = value;
    else if (name === 'event') fields.event = value;
    else if (name === 'data') fields.data = fields.data === undefined ? value : `${fields.data}\n${value}`;
  }
  return fields;
}
