import { filterAccepts, patternMatches, subscribes } from './event-match';

describe('event patterns', () => {
  it('match exactly, by family wildcard, or everything', () => {
    expect(patternMatches('task.completed', 'task.completed')).toBe(true);
    expect(patternMatches('task.completed', 'task.failed')).toBe(false);
    expect(patternMatches('task.*', 'task.failed')).toBe(true);
    expect(patternMatches('task.*', 'taskx.failed')).toBe(false);
    expect(patternMatches('task.*', 'file.cleaned')).toBe(false);
    expect(patternMatches('*', 'file.cleaned')).toBe(true);
    expect(subscribes(['file.*', 'task.retrying'], 'task.retrying')).toBe(true);
    expect(subscribes([], 'task.retrying')).toBe(false);
  });
});

describe('endpoint filter', () => {
  const filter = { taskTypes: ['file.clean'], tags: ['billing', 'eu'] };

  it('needs the task type and one of the tags', () => {
    expect(filterAccepts(filter, { type: 'file.clean', tags: ['eu'] })).toBe(true);
    expect(filterAccepts(filter, { type: 'file.clean', tags: ['us'] })).toBe(false);
    expect(filterAccepts(filter, { type: 'system.noop', tags: ['eu'] })).toBe(false);
    expect(filterAccepts(filter, { type: 'file.clean', tags: null })).toBe(false);
  });

  it('lets through what it cannot judge yet (a fact not known) and everything when absent', () => {
    expect(filterAccepts(filter, { type: 'file.clean' })).toBe(true);
    expect(filterAccepts(filter, {})).toBe(true);
    expect(filterAccepts(null, { type: 'x', tags: [] })).toBe(true);
    expect(filterAccepts({ taskTypes: [], tags: [] }, { type: 'x', tags: [] })).toBe(true);
  });
});
