import { waitFor } from '@conveyor/testing';
import { http, type TaskView } from '../../support/stack';

/**
 * The recycling check shared by the supervisors' tests: enqueues `count` short system.sleep tasks,
 * waits until the ledger counts them all finished, and returns each task as the API shows it.
 */
export async function runRecycleLoad(apiUrl: string, count: number, timeoutMs = 300_000): Promise<TaskView[]> {
  const finished = async () => {
    const { body: counts } = await http(apiUrl, 'GET', '/v1/tasks/counts?type=system.sleep');
    return ['completed', 'failed', 'cancelled', 'expired'].reduce((sum, s) => sum + (counts.counts[s] ?? 0), 0);
  };
  const before = await finished(); // earlier tests of the file may have run system.sleep tasks
  const { status, body } = await http(apiUrl, 'POST', '/v1/tasks/batch', {
    tasks: Array.from({ length: count }, () => ({ type: 'system.sleep', payload: { ms: 30 } })),
  });
  if (status !== 202) throw new Error(`batch refused: ${status} ${JSON.stringify(body)}`);
  const ids = (body.tasks as TaskView[]).map((t) => t.id);
  await waitFor(async () => (await finished()) >= before + count, { timeoutMs, intervalMs: 1000, what: `${count} tasks to finish` });
  const tasks: TaskView[] = [];
  for (let i = 0; i < ids.length; i += 50) {
    tasks.push(...(await Promise.all(ids.slice(i, i + 50).map(async (id) => (await http(apiUrl, 'GET', `/v1/tasks/${id}`)).body as TaskView))));
  }
  return tasks;
}
