import type { TaskEntity } from '../ledger/task.entity';
import { toFlowView } from './flow-view.dto';

const at = new Date('2026-12-08T00:00:00Z');
const row = (id: string, parentId: string | null, onFailure: string | null = null, status = 'completed'): TaskEntity =>
  ({ id, type: 'system.noop', status, parentId, onFailure, attempts: 1, error: null, createdAt: at, startedAt: at, finishedAt: at }) as unknown as TaskEntity;

describe('toFlowView', () => {
  it('puts flow nodes under their parent and follow-ups under the task that asked, at any depth', () => {
    const view = toFlowView('r', [row('r', null), row('a', 'r', 'ignore'), row('f1', 'a'), row('f2', 'f1', null, 'active'), row('g', 'r')], false);
    expect(view.root.children.map((node) => node.id)).toEqual(['a']);
    expect(view.root.followUps).toEqual([{ id: 'g', type: 'system.noop', status: 'completed', followUps: [] }]);
    expect(view.root.children[0].followUps).toEqual([
      { id: 'f1', type: 'system.noop', status: 'completed', followUps: [{ id: 'f2', type: 'system.noop', status: 'active', followUps: [] }] },
    ]);
    // Counts are of flow nodes only, as before.
    expect(view.counts).toEqual({ completed: 2 });
  });

  it('shows a chain of follow-ups from the task that started it (which is no flow node)', () => {
    const view = toFlowView('p', [row('p', null), row('s1', 'p'), row('s2', 's1')], true);
    expect(view).toMatchObject({ id: 'p', status: 'completed', truncated: true, counts: { completed: 1 } });
    expect(view.root.followUps[0]).toMatchObject({ id: 's1', followUps: [{ id: 's2', followUps: [] }] });
  });
});
