import { DEFAULT_BACKOFF, DEFAULT_PRIORITY, defineTaskType, type TaskTypeDefinition, DEFAULT_MAX_PAYLOAD_BYTES } from './task-type';
import { TaskTypeRegistry } from './task-type.registry';

class EmptyPayload {}

function taskType(type: string, queue = 'q1', defaults?: Parameters<typeof defineTaskType>[0]['defaults']): TaskTypeDefinition {
  return defineTaskType({ type, queue, description: `${type} for tests`, payload: EmptyPayload, defaults });
}

describe('defineTaskType', () => {
  it.each(['system.noop', 'file-cleaning.clean', 'a.b.c', 'report2.render-pdf'])('accepts the name %j', (name) => {
    expect(taskType(name).type).toBe(name);
  });

  it.each(['Noop', 'noop', 'a..b', 'System.noop', '.noop', 'noop.', 'system.1noop', 'system noop', ''])('rejects the name %j', (name) => {
    expect(() => taskType(name)).toThrow(/must look like "domain.action"/);
  });

  it('fills the defaults: priority 5, exponential backoff with jitter, no attempts or timeout override', () => {
    const definition = taskType('system.noop');
    expect(definition.defaults).toEqual({
      priority: DEFAULT_PRIORITY,
      maxAttempts: undefined,
      backoff: { type: 'exponential', delayMs: 1000, jitter: 0.5 },
      timeoutMs: undefined,
      maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
    });
    expect(DEFAULT_MAX_PAYLOAD_BYTES).toBe(256 * 1024);
    expect(DEFAULT_PRIORITY).toBe(5);
    expect(definition.defaults.backoff.jitter).toBeGreaterThan(0);
  });

  it('merges a partial backoff over the default one', () => {
    const definition = taskType('system.sleep', 'q1', { priority: 1, maxAttempts: 4, timeoutMs: 9000, backoff: { delayMs: 200 } as never });
    expect(definition.defaults).toEqual({
      priority: 1,
      maxAttempts: 4,
      backoff: { type: 'exponential', delayMs: 200, jitter: 0.5 },
      timeoutMs: 9000,
      maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
    });
  });

  it('does not share or change the default backoff object', () => {
    const definition = taskType('system.sleep', 'q1', { backoff: { type: 'fixed', delayMs: 5, jitter: 0 } });
    expect(definition.defaults.backoff).not.toBe(DEFAULT_BACKOFF);
    expect(DEFAULT_BACKOFF).toEqual({ type: 'exponential', delayMs: 1000, jitter: 0.5 });
  });

  it('keeps type, queue, description and payload, and returns a frozen object', () => {
    const definition = taskType('system.noop', 'system');
    expect(definition).toMatchObject({ type: 'system.noop', queue: 'system', description: 'system.noop for tests', payload: EmptyPayload });
    expect(Object.isFrozen(definition)).toBe(true);
    expect(() => {
      (definition as { queue: string }).queue = 'other';
    }).toThrow(TypeError);
    expect(definition.queue).toBe('system');
  });
});

describe('TaskTypeRegistry', () => {
  const b = taskType('beta.run', 'q1');
  const a = taskType('alpha.run', 'q1');
  const c = taskType('gamma.run', 'q2');

  it('registers and looks types up by name', () => {
    const registry = new TaskTypeRegistry();
    registry.register([b, a, c]);
    expect(registry.get('alpha.run')).toBe(a);
    expect(registry.get('gamma.run')).toBe(c);
    expect(registry.get('delta.run')).toBeUndefined();
  });

  it('lists all types sorted by name and the queues deduplicated and sorted', () => {
    const registry = new TaskTypeRegistry();
    registry.register([c, b]);
    registry.register([a]);
    expect(registry.all().map((t) => t.type)).toEqual(['alpha.run', 'beta.run', 'gamma.run']);
    expect(registry.queues()).toEqual(['q1', 'q2']);
  });

  it('is empty before anything is registered', () => {
    const registry = new TaskTypeRegistry();
    expect(registry.all()).toEqual([]);
    expect(registry.queues()).toEqual([]);
  });

  it('accepts the same definition twice (API and worker modules both register a contract)', () => {
    const registry = new TaskTypeRegistry();
    registry.register([a, b]);
    expect(() => registry.register([a])).not.toThrow();
    expect(registry.all()).toEqual([a, b]);
  });

  it('refuses a different definition under a name already taken', () => {
    const registry = new TaskTypeRegistry();
    registry.register([a]);
    const impostor = taskType('alpha.run', 'q2');
    expect(() => registry.register([impostor])).toThrow('Task type "alpha.run" is declared twice');
    expect(registry.get('alpha.run')).toBe(a);
  });

  it('refuses a duplicate inside one batch', () => {
    const registry = new TaskTypeRegistry();
    expect(() => registry.register([a, taskType('alpha.run')])).toThrow(/declared twice/);
  });

  it("holds a renamed queue's types under the stored name, and maps names both ways", () => {
    const registry = new TaskTypeRegistry({ q1: 'legacy' });
    registry.register([a, c]);
    registry.register([a]); // the same contract again is still no duplicate
    expect(registry.get('alpha.run')).toMatchObject({ type: 'alpha.run', queue: 'legacy', payload: a.payload });
    expect(Object.isFrozen(registry.get('alpha.run'))).toBe(true);
    expect(a.queue).toBe('q1');
    expect(registry.get('gamma.run')).toBe(c);
    expect(registry.queues()).toEqual(['legacy', 'q2']);
    expect(registry.storedQueueName('q1')).toBe('legacy');
    expect(registry.contractQueueName('legacy')).toBe('q1');
    expect(registry.contractQueueName('q2')).toBe('q2');
  });
});
