import { DomainError } from '@conveyor/errors';
import { defineTaskType } from '../contracts/task-type';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import type { CommitEffectsRelay } from '../flows/commit-effects.relay';
import type { FlowSettler } from '../flows/flow-settler';
import type { JobRelay } from '../intake/job-relay';
import type { TaskLedgerService } from '../ledger/task-ledger.service';
import type { TaskEntity } from '../ledger/task.entity';
import { TaskControlService } from './task-control.service';

class NoPayload {}
const TYPE = defineTaskType({ type: 'spec.retry', queue: 'spec', description: 'retry spec', payload: NoPayload });
const failed = {
  id: 't-1',
  tenantId: 'a',
  type: TYPE.type,
  queue: 'spec',
  status: 'failed',
  attempts: 1,
  attemptBudget: 1,
  maxAttempts: 1,
  payload: {},
  priority: 5,
  timeoutMs: 1000,
} as unknown as TaskEntity;

/** The retry's order of work against a queue whose worker still holds the finished job. */
function setup(activeFor: number) {
  const calls: string[] = [];
  let removals = 0;
  const queue = {
    remove: jest.fn(() => {
      removals += 1;
      calls.push('remove');
      // BullMQ refuses (0) while the worker still holds the job's lock.
      return Promise.resolve(removals > activeFor ? 1 : 0);
    }),
    getJob: jest.fn(() => Promise.resolve(removals > activeFor ? undefined : { id: 't-1' })),
  };
  const ledger = {
    findOne: jest.fn(() => Promise.resolve(failed)),
    transition: jest.fn(() => {
      calls.push('transition');
      return Promise.resolve(true);
    }),
  };
  const relay = {
    add: jest.fn(() => {
      calls.push('add');
      return Promise.resolve(['added']);
    }),
  };
  const registry = new TaskTypeRegistry();
  registry.register([TYPE]);
  const service = new TaskControlService(
    ledger as unknown as TaskLedgerService,
    { ...relay, queue: () => queue } as unknown as JobRelay,
    registry,
    {} as FlowSettler,
    {} as CommitEffectsRelay,
  );
  return { service, calls, queue };
}

describe('TaskControlService.retry', () => {
  it('waits for the worker to release the finished job before re-adding under its id', async () => {
    const { service, calls } = setup(2);
    await service.retry('a', 't-1');
    expect(calls).toEqual(['remove', 'remove', 'remove', 'transition', 'add']);
  });

  it('answers 409 TASK_BUSY and changes nothing when the job is never released', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    try {
      const { service, calls } = setup(Number.MAX_SAFE_INTEGER);
      const retried = service.retry('a', 't-1');
      const outcome = expect(retried).rejects.toMatchObject({ code: 'TASK_BUSY' });
      await jest.advanceTimersByTimeAsync(6000);
      await outcome;
      await expect(retried).rejects.toBeInstanceOf(DomainError);
      expect(calls.filter((call) => call !== 'remove')).toEqual([]);
    } finally {
      jest.useRealTimers();
    }
  });
});
