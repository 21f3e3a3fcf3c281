import type { AppConfig } from '@conveyor/config';
import type { DataSource, EntityManager } from 'typeorm';
import { matching, SubscriptionCache } from './subscription-cache';

const ACTIVATION_MS = 5000;
const config = { webhooks: { activationDelayMs: ACTIVATION_MS } } as AppConfig;
const at = (iso: string) => new Date(iso);

/** The cache over a fake repository: which rows a load returns, and whether it fails. */
function setup(rows: Array<Record<string, unknown>>) {
  const state = { rows, fail: false, loads: 0 };
  const repository = {
    find: jest.fn(async () => {
      state.loads += 1;
      if (state.fail) throw new Error('db down');
      return state.rows;
    }),
  };
  const cache = new SubscriptionCache(config, { getRepository: () => repository } as unknown as DataSource);
  (cache as unknown as { logger: { warn: jest.Mock } }).logger = { warn: jest.fn() };
  return { cache, state, repository };
}

const endpoint = (tenantId: string, events: string[], extra: Record<string, unknown> = {}) => ({
  id: `${tenantId}-${events.join()}`,
  tenantId,
  events,
  filter: null,
  activeFrom: at('2026-01-01T00:00:00Z'),
  ...extra,
});

describe('SubscriptionCache', () => {
  afterEach(() => jest.useRealTimers());

  it('answers from memory once loaded: by tenant, event type and filter', async () => {
    const { cache, repository } = setup([endpoint('a', ['task.completed'], { filter: { taskTypes: ['file.clean'] } }), endpoint('b', ['task.*'])]);
    await cache.refresh();
    expect(cache.mayWant({ tenantId: 'a', eventType: 'task.completed', taskType: 'file.clean' })).toBe(true);
    expect(cache.mayWant({ tenantId: 'a', eventType: 'task.completed', taskType: 'system.noop' })).toBe(false);
    expect(cache.mayWant({ tenantId: 'a', eventType: 'task.failed', taskType: 'file.clean' })).toBe(false);
    expect(cache.mayWant({ tenantId: 'b', eventType: 'task.retrying' })).toBe(true);
    expect(cache.mayWant({ tenantId: 'c', eventType: 'task.completed' })).toBe(false);
    // A tenant not known to the caller: any tenant's subscription counts.
    expect(cache.mayWant({ eventType: 'task.retrying' })).toBe(true);
    expect(repository.find).toHaveBeenCalledTimes(1);
  });

  it('stops trusting itself once its last load is older than the activation delay, and says "maybe" then', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    const { cache, state } = setup([]);
    await cache.refresh();
    expect(cache.trusted).toBe(true);
    expect(cache.mayWant({ tenantId: 'a', eventType: 'task.completed' })).toBe(false);
    state.fail = true;
    await expect(cache.refresh()).rejects.toThrow('db down');
    jest.advanceTimersByTime(ACTIVATION_MS + 1);
    expect(cache.trusted).toBe(false);
    expect(cache.mayWant({ tenantId: 'a', eventType: 'task.completed' })).toBe(true);
  });

  it('reads the endpoints in the transaction when not trusted', async () => {
    const { cache } = setup([]);
    const inTransaction = [endpoint('a', ['task.*'])];
    const manager = { getRepository: () => ({ find: jest.fn(async () => inTransaction) }) } as unknown as EntityManager;
    expect(await cache.subscriptions(manager, ['a'])).toEqual(inTransaction);
  });

  it('matches only endpoints already active at the transition', () => {
    const early = endpoint('a', ['task.*'], { activeFrom: at('2026-01-01T00:00:00Z') });
    const late = endpoint('a', ['task.completed'], { id: 'late', activeFrom: at('2026-01-01T00:00:05Z') });
    const other = endpoint('b', ['*']);
    const subject = { tenantId: 'a', eventType: 'task.completed' };
    expect(matching([early, late, other] as never, subject, at('2026-01-01T00:00:04.999Z')).map((s) => s.id)).toEqual([early.id]);
    expect(matching([early, late, other] as never, subject, at('2026-01-01T00:00:05Z')).map((s) => s.id)).toEqual([early.id, 'late']);
  });
});
