import type { FlowView } from '../../../../libs/client/src/index';
import { call, type Session, type TaskView } from '../api';
import { usePolled } from '../hooks';
import { href } from '../router';
import { FlowTree } from './flow-tree';

/**
 * "Flow" on a task's page: the whole tree it belongs to (`GET /v1/tasks/:id/flow`) when it is in
 * a flow or a chain of follow-ups, read again whenever this task's status changes; a lone task
 * lists its (no) children.
 */
export function FlowSection({ session, task }: { session: Session; task: TaskView }) {
  const related = task.rootId !== null || (task.children?.length ?? 0) > 0;
  const flow = usePolled(() => (related ? call<FlowView>(session.key, 'GET', `/v1/tasks/${task.id}/flow`) : Promise.resolve(undefined)), 0, [
    session.key,
    task.id,
    task.status,
    related,
  ]);
  return (
    <section aria-labelledby="flow-title">
      <h2 id="flow-title">{related ? 'Flow' : 'Children'}</h2>
      {flow.error && (
        <p role="alert" class="error">
          {flow.error}
        </p>
      )}
      {flow.data && <FlowTree flow={flow.data} current={task.id} />}
      {!related && <p class="empty">None.</p>}
      {related && task.moreChildren && (
        <p>
          <a href={href('/tasks', { parentId: task.id })}>all children of this task…</a>
        </p>
      )}
      {related && !flow.data && !flow.error && <p aria-busy="true">Loading…</p>}
    </section>
  );
}
