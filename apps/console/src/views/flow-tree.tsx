import type { ComponentChildren } from 'preact';
import type { FlowFollowUp, FlowNode, FlowView } from '../../../../libs/client/src/index';
import { href } from '../router';
import { StatusBadge } from './status-badge';

// Ids of one flow share their time prefix: the tail tells them apart.
const shortId = (id: string) => `${id.slice(0, 8)}…${id.slice(-4)}`;

/** One task of the tree: a link to its page (the current one marked), its status, then what hangs under it. */
function Item({ task, current, policy, below }: { task: FlowFollowUp; current: string; policy?: string | null; below: ComponentChildren }) {
  const here = task.id === current;
  return (
    <li>
      <a href={href(`/tasks/${task.id}`)} aria-current={here ? 'page' : undefined} title={task.id}>
        {task.type} <span class="mono hint">{shortId(task.id)}</span>
      </a>{' '}
      <StatusBadge status={task.status} />
      {policy && <span class="hint"> · on failure: {policy}</span>}
      {here && <span class="hint"> (this task)</span>}
      {below}
    </li>
  );
}

function FollowUps({ list, current }: { list: FlowFollowUp[]; current: string }) {
  if (list.length === 0) return null;
  return (
    <ul>
      {list.map((task) => (
        <Item key={task.id} task={task} current={current} below={<FollowUps list={task.followUps} current={current} />} />
      ))}
    </ul>
  );
}

function Node({ node, current }: { node: FlowNode; current: string }) {
  const below = (
    <>
      {node.children.length > 0 && (
        <ul>
          {node.children.map((child) => (
            <Node key={child.id} node={child} current={current} />
          ))}
        </ul>
      )}
      <FollowUps list={node.followUps} current={current} />
    </>
  );
  return <Item task={node} current={current} policy={node.onFailure} below={below} />;
}

/**
 * The flow or chain a task belongs to (`GET /v1/tasks/:id/flow`), from its root: nested lists of
 * links, so Tab walks the tree in order and every node opens its own page.
 */
export function FlowTree({ flow, current }: { flow: FlowView; current: string }) {
  const counts = Object.entries(flow.counts)
    .map(([status, count]) => `${count} ${status}`)
    .join(', ');
  return (
    <nav aria-label="Flow tree" class="flow-tree" data-testid="flow-tree">
      <p class="hint">
        {flow.root.id === current ? 'This task is the root.' : <a href={href(`/tasks/${flow.id}`)}>Go to the root</a>} · nodes: {counts}
        {flow.truncated && ' · more tasks than shown'}
      </p>
      <ul>
        <Node node={flow.root} current={current} />
      </ul>
    </nav>
  );
}
