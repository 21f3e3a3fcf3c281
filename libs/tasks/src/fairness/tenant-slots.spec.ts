import type { Job } from 'bullmq';
import type { AppConfig } from '@conveyor/config';
import type { TaskJobData } from '../task-job';
import type { QueueHandle } from './queue-script';
import { TenantSlots } from './tenant-slots';

function handle(runCommand: jest.Mock): QueueHandle {
  const client = { defineCommand: jest.fn(), runCommand };
  return {
    toKey: (type: string) => `p:q:${type}`,
    keys: { prioritized: 'p:q:prioritized' },
    getBackend: () => ({ client: Promise.resolve(client) }),
  } as unknown as QueueHandle;
}

const config = { worker: { lockDurationMs: 30_000 }, fairness: { enabled: true, tenantConcurrencyDefault: 2, borrow: true, deferMs: 500 } } as AppConfig;
const job = () => ({ id: 'task-1', data: { tenantId: 'acme' }, moveToDelayed: jest.fn() }) as unknown as Job<TaskJobData>;

describe('TenantSlots', () => {
  it('runs the task uncapped when the cap cannot be checked, rather than failing its attempt', async () => {
    const slots = new TenantSlots(config);
    const taken = job();
    const slot = await slots.admit(handle(jest.fn().mockRejectedValue(new Error('READONLY'))), taken, 'token');
    slot.release();
    expect(taken.moveToDelayed).not.toHaveBeenCalled();
    slots.onModuleDestroy();
  });

  it('defers nothing and asks Redis nothing with fairness off', async () => {
    const runCommand = jest.fn();
    const slots = new TenantSlots({ ...config, fairness: { ...config.fairness, enabled: false } });
    await slots.admit(handle(runCommand), job(), 'token');
    expect(runCommand).not.toHaveBeenCalled();
  });

  it('with no cap anywhere, slots that start together share one look at the caps hash, and the next ones ask nothing', async () => {
    let answer!: (n: number) => void;
    const exists = jest.fn(() => new Promise<number>((resolve) => (answer = resolve)));
    const runCommand = jest.fn();
    const queue = handle(runCommand);
    (queue.getBackend as unknown) = () => ({ client: Promise.resolve({ exists, runCommand }) });
    const slots = new TenantSlots({ ...config, fairness: { ...config.fairness, tenantConcurrencyDefault: 0 } });
    const admitted = Promise.all(Array.from({ length: 5 }, () => slots.admit(queue, job(), 'token')));
    await new Promise(setImmediate);
    answer(0);
    await admitted;
    await slots.admit(queue, job(), 'token');
    expect(exists).toHaveBeenCalledTimes(1);
    expect(runCommand).not.toHaveBeenCalled();
  });

  it('over the cap: takes back the start, moves the job to delayed for FAIRNESS_DEFER_MS and says so with a DelayedError', async () => {
    const runCommand = jest.fn().mockResolvedValue(0);
    const slots = new TenantSlots(config);
    const deferred = job();
    const before = Date.now();
    await expect(slots.admit(handle(runCommand), deferred, 'token')).rejects.toMatchObject({ name: 'DelayedError' });
    expect(runCommand.mock.calls.map(([name]) => name)).toEqual([
      'conveyorAcquireTenantSlot',
      'conveyorAcquireTenantSlot',
      'conveyorAcquireTenantSlot',
      'conveyorUncountStart',
    ]);
    const [[until, token]] = (deferred.moveToDelayed as jest.Mock).mock.calls;
    expect(token).toBe('token');
    expect(until).toBeGreaterThanOrEqual(before + 500);
  });
});
