import type { Logger } from 'pino';
import { AttemptLog, MAX_LOG_MESSAGE, type TaskLogRow } from './task-log';

function setup(limits = { maxLines: 3, maxBytes: 1000 }) {
  const rows: TaskLogRow[] = [];
  const logger = { info: jest.fn(), warn: jest.fn(), error: jest.fn() };
  const log = new AttemptLog('task-1', 2, logger as unknown as Logger, { append: (row) => rows.push(row) }, limits);
  return { rows, logger, log };
}

describe('AttemptLog', () => {
  it('keeps lines up to TASK_LOG_MAX_LINES, logs every line, and says at close how many it dropped', () => {
    const t = setup();
    for (let i = 0; i < 5; i += 1) t.log.info(`line ${i}`, { i });
    t.log.close();
    expect(t.logger.info).toHaveBeenCalledTimes(5);
    expect(t.rows.map((row) => row.message)).toEqual(['line 0', 'line 1', 'line 2', expect.stringContaining('2 log line(s)')]);
    expect(t.rows[3]).toMatchObject({ level: 'warn', attempt: 2, taskId: 'task-1', fields: JSON.stringify({ droppedLines: 2, droppedBytes: 26 }) });
    // Ids are time-ordered in logging order: the paging cursor.
    expect([...t.rows.map((row) => row.id)].sort()).toEqual(t.rows.map((row) => row.id));
  });

  it('caps bytes (message and fields as JSON), and keeps a later line that still fits', () => {
    const t = setup({ maxLines: 100, maxBytes: 50 });
    t.log.warn('x'.repeat(40));
    t.log.warn('y'.repeat(20));
    t.log.warn('z'.repeat(10));
    t.log.close();
    expect(t.rows.map((row) => row.message[0])).toEqual(['x', 'z', '1']);
  });

  it('keeps nothing after close and nothing when the caps are 0', () => {
    const t = setup();
    t.log.close();
    t.log.error('late');
    expect(t.logger.error).toHaveBeenCalledWith('late');
    expect(t.rows).toEqual([]);
    for (const limits of [
      { maxLines: 0, maxBytes: 1000 },
      { maxLines: 10, maxBytes: 0 },
    ]) {
      const off = setup(limits);
      off.log.info('a');
      off.log.close();
      expect(off.logger.info).toHaveBeenCalledWith('a');
      expect(off.rows).toEqual([]);
    }
  });

  it('stores what SQL text takes: long messages cut, NUL and lone surrogates replaced, unserializable fields explained', () => {
    const t = setup({ maxLines: 10, maxBytes: 1_000_000 });
    t.log.info('a'.repeat(MAX_LOG_MESSAGE + 5));
    t.log.info('nul\u0000 lone\ud800 pair\ud83d\ude00');
    t.log.info('big', { n: BigInt(1) });
    expect(t.rows[0].message).toHaveLength(MAX_LOG_MESSAGE + '… (5 more characters)'.length);
    expect(t.rows[1].message).toBe('nul\ufffd lone\ufffd pair\ud83d\ude00');
    expect(JSON.parse(t.rows[2].fields!)).toEqual({ unserializable: expect.stringMatching(/BigInt/) });
  });
});
