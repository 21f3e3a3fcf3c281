import { uniqueName, waitFor, type AppProcess } from '@conveyor/testing';
import type { SqlDialect } from '@conveyor/database';
import { http, startStack, waitForTerminal, type Stack, type TaskView } from './support/stack';

const LOCK_MS = 2000;
const STALL_CHECK_MS = 1000;
const POLICIES = ['fail-parent', 'ignore', 'continue', 'cancel-siblings'] as const;
type Policy = (typeof POLICIES)[number];
const TERMINAL = ['completed', 'failed', 'cancelled', 'expired'];

interface FlowNode {
  type: string;
  payload: Record<string, unknown>;
  onFailure?: Policy;
  children?: FlowNode[];
  [option: string]: unknown;
}
interface TreeNode {
  id: string;
  type: string;
  status: string;
  onFailure: string | null;
  error: { code: string; message: string } | null;
  children: TreeNode[];
}
interface Gathered {
  children: Array<{ id: string; type: string; status: string; error: { code: string } | null }>;
  completed: number;
  failed: number;
}

const gather = (children: FlowNode[], extra: Partial<FlowNode> = {}): FlowNode => ({ type: 'system.gather', payload: {}, ...extra, children });
const noop = (extra: Partial<FlowNode> = {}): FlowNode => ({ type: 'system.noop', payload: {}, ...extra });
const sleep = (ms: number, extra: Partial<FlowNode> = {}, payload: Record<string, unknown> = {}): FlowNode => ({
  type: 'system.sleep',
  payload: { ms, ...payload },
  ...extra,
});
const flatten = (node: TreeNode): TreeNode[] => [node, ...node.children.flatMap(flatten)];

/**
 * Flows through the API and real workers: a tree submitted whole, parents running after their
 * children and reading their results, each failure policy against each way a child can end badly
 * (fails, cancelled, expires, its worker killed with SIGKILL mid-run), a worker dying between a
 * child's commit and its parent's job, cancel of a whole flow, and refusals that store nothing.
 * Every flow must end: no node may be left waiting.
 */
describe.each<SqlDialect>(['postgres', 'mysql'])('flows on %s', (dialect) => {
  // What depends on the database (row locks, crash recovery) runs on both; the rest of the
  // rules are dialect-tested in flows.integration-spec.ts, so the e2e runs them once.
  const onPostgres = dialect === 'postgres' ? it : it.skip;
  let stack: Stack;
  let worker: AppProcess | undefined;
  const submit = (body: FlowNode, headers: Record<string, string> = {}) => http(stack.apiUrl, 'POST', '/v1/flows', body, headers);
  const tree = async (rootId: string) => (await http(stack.apiUrl, 'GET', `/v1/flows/${rootId}`)).body as { status: string; root: TreeNode };
  const task = async (id: string) => (await http(stack.apiUrl, 'GET', `/v1/tasks/${id}`)).body as TaskView;
  /** Waits until every node of the flow has ended, and returns the tree. */
  const settled = (rootId: string, timeoutMs = 30_000) =>
    waitFor(
      async () => {
        const flow = await tree(rootId);
        return flatten(flow.root).every((node) => TERMINAL.includes(node.status)) ? flow : undefined;
      },
      { timeoutMs, what: `every node of flow ${rootId} to end` },
    );

  beforeAll(async () => {
    stack = await startStack({
      dialect,
      worker: false,
      env: {
        WORKER_LOCK_DURATION_MS: String(LOCK_MS),
        WORKER_STALLED_INTERVAL_MS: String(STALL_CHECK_MS),
        RECONCILE_INTERVAL_MS: '10000',
        RECONCILE_MIN_AGE_MS: '10000',
      },
    });
    worker = await stack.startWorker();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('runs a three-level flow bottom-up: each parent after its children, reading their results; GET shows the tree', async () => {
    const response = await submit(gather([gather([sleep(30), noop()]), noop()]));
    expect(response.status).toBe(202);
    expect(response.headers.get('location')).toBe(`/v1/flows/${response.body.id}`);
    const { nodes } = response.body as { nodes: Array<{ id: string; type: string; parentId: string | null }> };
    expect(nodes.map((node) => node.type)).toEqual(['system.gather', 'system.gather', 'system.sleep', 'system.noop', 'system.noop']);
    expect(nodes.map((node) => node.parentId)).toEqual([null, nodes[0].id, nodes[1].id, nodes[1].id, nodes[0].id]);
    expect(response.body.id).toBe(nodes[0].id);

    const root = await waitForTerminal(stack.apiUrl, nodes[0].id);
    expect(root.status).toBe('completed');
    const result = root.result as Gathered;
    expect(result.children.map((child) => [child.id, child.status])).toEqual([
      [nodes[1].id, 'completed'],
      [nodes[4].id, 'completed'],
    ]);
    const middle = await task(nodes[1].id);
    expect((middle.result as Gathered).children.map((child) => child.type)).toEqual(['system.sleep', 'system.noop']);
    // A parent starts only after each of its children finished.
    for (const [parentIndex, childIndexes] of [
      [0, [1, 4]],
      [1, [2, 3]],
    ] as const) {
      const parent = await task(nodes[parentIndex].id);
      for (const index of childIndexes) expect(Date.parse(parent.startedAt!)).toBeGreaterThanOrEqual(Date.parse((await task(nodes[index].id)).finishedAt!));
    }
    const flow = await tree(nodes[0].id);
    expect(flow.status).toBe('completed');
    expect(flatten(flow.root).map((node) => [node.id, node.status])).toEqual(nodes.map((node) => [node.id, 'completed']));
    expect(flow.root.children[0].children.map((node) => node.onFailure)).toEqual(['fail-parent', 'fail-parent']);
  });

  onPostgres(
    'applies each policy to a child that fails, is cancelled or expires; every flow ends and says why',
    async () => {
      const bad = {
        failed: () => sleep(1, { maxAttempts: 1 }, { failTimes: 1 }),
        cancelled: () => sleep(60_000),
        expired: () => sleep(1, { delayMs: 1500, expiresInMs: 200 }),
      };
      const cases = POLICIES.flatMap((policy) => (Object.keys(bad) as Array<keyof typeof bad>).map((outcome) => ({ policy, outcome })));
      const flows = await Promise.all(
        cases.map(async ({ policy, outcome }) => {
          // Under cancel-siblings the sibling is still running when the bad child ends.
          const sibling = policy === 'cancel-siblings' ? sleep(60_000) : noop();
          const { status, body } = await submit(gather([{ ...bad[outcome](), onFailure: policy }, sibling]));
          expect(status).toBe(202);
          return { policy, outcome, root: body.nodes[0].id as string, bad: body.nodes[1].id as string, sibling: body.nodes[2].id as string };
        }),
      );
      for (const flow of flows.filter((f) => f.outcome === 'cancelled')) {
        const cancelled = await http(stack.apiUrl, 'POST', `/v1/tasks/${flow.bad}/cancel`);
        expect(cancelled.status).toBe(200);
        expect(cancelled.body.status).toBe('cancelled');
      }
      for (const flow of flows) {
        const ended = await settled(flow.root);
        const [badNode, siblingNode] = ended.root.children;
        expect({ ...flow, bad: badNode.status }).toEqual({ ...flow, bad: flow.outcome });
        const root = await task(flow.root);
        if (flow.policy === 'fail-parent' || flow.policy === 'cancel-siblings') {
          expect({ ...flow, root: root.status, code: root.error?.code }).toEqual({ ...flow, root: 'failed', code: 'CHILD_FAILED' });
          expect(root.error!.message).toContain(flow.bad);
          expect(siblingNode.status).toBe(flow.policy === 'cancel-siblings' ? 'cancelled' : 'completed');
        } else {
          expect({ ...flow, root: root.status }).toEqual({ ...flow, root: 'completed' });
          const seen = (root.result as Gathered).children.map((child) => [child.id, child.status]);
          // ignore: as if the child had not been there; continue: listed with its outcome.
          if (flow.policy === 'ignore') expect(seen).toEqual([[flow.sibling, 'completed']]);
          else
            expect(seen).toEqual([
              [flow.bad, flow.outcome],
              [flow.sibling, 'completed'],
            ]);
        }
      }
    },
    90_000,
  );

  it('ends every flow when the worker running a child is killed with SIGKILL mid-run', async () => {
    await worker?.stop();
    const victim = await stack.startWorker();
    const flows = await Promise.all(
      POLICIES.map(async (policy) => (await submit(gather([{ ...sleep(4000), onFailure: policy }, noop()]))).body.nodes as Array<{ id: string }>),
    );
    await waitFor(async () => (await Promise.all(flows.map((nodes) => task(nodes[1].id)))).every((child) => child.status === 'active'), {
      timeoutMs: 15_000,
      what: 'the sleeping children to run',
    });
    victim.child.kill('SIGKILL');
    await waitFor(() => victim.child.exitCode !== null || victim.child.signalCode !== null, { what: 'the victim to die' });
    worker = await stack.startWorker();
    for (const nodes of flows) {
      const ended = await settled(nodes[0].id, LOCK_MS + 3 * STALL_CHECK_MS + 30_000);
      // The stalled child ran again on the other worker; its parent then ran once.
      expect(ended.status).toBe('completed');
      expect((await task(nodes[1].id)).attempts).toBe(2);
      expect((await task(nodes[0].id)).attempts).toBe(1);
    }
  }, 90_000);

  it("runs the parent exactly once when the worker dies between its last child's commit and adding the parent's job", async () => {
    await worker?.stop();
    const victim = await stack.startWorker({ CONVEYOR_FAILPOINTS: 'after-flow-release-commit' });
    const { body } = await submit(gather([noop()]));
    const [root, child] = body.nodes as Array<{ id: string }>;
    await waitFor(() => victim.child.exitCode !== null || victim.child.signalCode !== null, { timeoutMs: 15_000, what: 'the worker to die at the failpoint' });
    expect(victim.child.signalCode).toBe('SIGKILL');
    // Committed together: the child's end and the parent's release; no job for the parent yet.
    expect((await task(child.id)).status).toBe('completed');
    expect((await task(root.id)).status).toBe('queued');

    // The reconciler adds the parent's missing job; the child's job runs again and changes nothing.
    worker = await stack.startWorker();
    const ended = await waitForTerminal(stack.apiUrl, root.id, 45_000);
    expect(ended.status).toBe('completed');
    expect(ended.attempts).toBe(1);
    expect((ended.result as Gathered).children).toHaveLength(1);
  }, 60_000);

  it('cancels every unfinished node with the root, running ones included', async () => {
    const { body } = await submit(gather([sleep(60_000), gather([sleep(60_000), noop()]), noop()]));
    const ids = (body.nodes as Array<{ id: string }>).map((node) => node.id);
    await waitFor(async () => (await task(ids[1])).status === 'active', { what: 'a child to run' });
    const cancelled = await http(stack.apiUrl, 'POST', `/v1/flows/${ids[0]}/cancel`);
    expect(cancelled.status).toBe(200);
    const nodes = flatten(cancelled.body.root as TreeNode);
    expect(nodes.every((node) => TERMINAL.includes(node.status))).toBe(true);
    expect(nodes.filter((node) => node.type === 'system.sleep').map((node) => node.status)).toEqual(['cancelled', 'cancelled']);
    expect(cancelled.body.status).toBe('cancelled');
    // The running sleep was told to stop; nothing it does later revives it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await task(ids[1])).status).toBe('cancelled');
    expect((await http(stack.apiUrl, 'POST', `/v1/flows/${ids[0]}/cancel`)).status).toBe(409);
  });

  onPostgres('refuses a bad flow with a clear 400 naming the node, and stores nothing of it', async () => {
    const key = (await http(stack.apiUrl, 'POST', '/v1/admin/keys', { tenant: uniqueName('bad-flows'), scopes: ['tasks:read', 'tasks:write'] })).body.key;
    const as = { authorization: `Bearer ${key}` };
    const refusal = async (body: unknown) => {
      const response = await http(stack.apiUrl, 'POST', '/v1/flows', body, as);
      expect(response.status).toBe(400);
      return response.body.error as { code: string; details?: Array<{ field: string; code?: string }> };
    };
    const unknown = await refusal(gather([noop(), gather([noop(), { type: 'no.such.type', payload: {} }])]));
    expect(unknown.code).toBe('VALIDATION_FAILED');
    expect(unknown.details).toEqual([expect.objectContaining({ field: 'children[1].children[1].type', code: 'UNKNOWN_TASK_TYPE' })]);
    const badPayload = await refusal(gather([sleep(-5)]));
    expect(badPayload.details?.[0].field).toBe('children[0].payload.ms');
    let deep: FlowNode = noop();
    for (let level = 1; level < 21; level += 1) deep = gather([deep]);
    expect((await refusal(deep)).code).toBe('FLOW_TOO_DEEP');
    expect((await refusal(gather(Array.from({ length: 1000 }, () => noop())))).code).toBe('FLOW_TOO_LARGE');
    expect((await refusal({ ...gather([noop()]), onFailure: 'ignore' })).code).toBe('FLOW_INVALID');
    expect((await refusal(gather([noop({ idempotencyKey: 'child-key' })]))).code).toBe('FLOW_INVALID');
    expect((await refusal(gather([noop({ onFailure: 'retry-forever' as Policy })]))).code).toBe('VALIDATION_FAILED');
    expect((await http(stack.apiUrl, 'GET', '/v1/tasks?limit=10', undefined, as)).body.tasks).toEqual([]);
    expect((await http(stack.apiUrl, 'GET', `/v1/flows/${'0'.repeat(8)}-0000-7000-8000-000000000000`, undefined, as)).status).toBe(404);
  });

  onPostgres(
    'takes a flow of 1,000 nodes in one request and runs it; the same Idempotency-Key returns the same flow',
    async () => {
      const body = gather(Array.from({ length: 999 }, () => noop()));
      const headers = { 'idempotency-key': uniqueName('flow-key') };
      const first = await submit(body, headers);
      expect(first.status).toBe(202);
      expect(first.body.nodes).toHaveLength(1000);
      const again = await submit(body, headers);
      expect(again.status).toBe(200);
      expect(again.body.nodes.map((node: { id: string }) => node.id)).toEqual(first.body.nodes.map((node: { id: string }) => node.id));
      expect((await submit(gather([noop()]), headers)).status).toBe(422);
      const root = await waitForTerminal(stack.apiUrl, first.body.id, 60_000);
      expect(root.status).toBe('completed');
      expect((root.result as Gathered).completed).toBe(999);
    },
    90_000,
  );
});
