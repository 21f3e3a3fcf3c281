import { lineFormatter, wantsPretty } from './dev-log-format';

describe('dev launcher log lines', () => {
  it('are readable when LOG_PRETTY says so, or by default on a terminal', () => {
    expect(wantsPretty({ LOG_PRETTY: '1' }, false)).toBe(true);
    expect(wantsPretty({ LOG_PRETTY: 'true' }, false)).toBe(true);
    expect(wantsPretty({ LOG_PRETTY: '0' }, true)).toBe(false);
    expect(wantsPretty({}, true)).toBe(true);
    expect(wantsPretty({}, false)).toBe(false);
  });

  it('turn a JSON line into time, level, context and message, with its other fields below', () => {
    const format = lineFormatter({ pretty: true, colorize: false });
    const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 1), service: 'conveyor-worker', context: 'TaskRunner', taskId: 't-1', msg: 'slow task' });
    const shown = format(line);
    expect(shown[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: TaskRunner: slow task$/);
    expect(shown.slice(1).join('\n')).toMatch(/taskId: "t-1"/);
    expect(shown.join('\n')).not.toMatch(/conveyor-worker/);
  });

  it('leave other lines, and every line when not pretty, as they are', () => {
    const pretty = lineFormatter({ pretty: true, colorize: false });
    expect(pretty('worker failed to start: boom')).toEqual(['worker failed to start: boom']);
    expect(pretty('{not json')).toEqual(['{not json']);
    const plain = lineFormatter({ pretty: false, colorize: false });
    expect(plain('{"level":30,"msg":"x"}')).toEqual(['{"level":30,"msg":"x"}']);
  });
});
