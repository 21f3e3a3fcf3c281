import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { FIXTURES, fixture, sink } from '../../test/cleaning-fixtures';
import { cleanStream } from '../cleaning/clean-stream';
import { CleaningError } from '../cleaning/cleaning-error';
import { cleanInThread } from './clean-in-thread';

/** An input that never ends: the same rows, produced as fast as they are read. */
function endless(): Readable {
  const block = Buffer.from('email,name,signup\n' + ' a@example.com , Some  Body ,2024-01-05\n'.repeat(2000));
  return new Readable({
    read() {
      this.push(block);
    },
  });
}

// Pure streams, no infrastructure: the thread runs from the TypeScript sources here (the built
// dist takes the other path; the e2e tests cover that one).
describe('cleanInThread', () => {
  it('cleans on a thread with the same bytes and report as the engine, reading the input twice for keep:"last"', async () => {
    const fixtureRules = JSON.parse(fixture('rules.json').toString('utf8'));
    const open = () => createReadStream(join(FIXTURES, 'dirty.csv'));
    for (const keep of ['first', 'last'] as const) {
      const rules = { ...fixtureRules, dedupe: { ...fixtureRules.dedupe, keep } };
      const [output, rejects, engineOutput, engineRejects] = [sink(), sink(), sink(), sink()];
      let opened = 0;
      const report = await cleanInThread({
        open: () => {
          opened++;
          return open();
        },
        output: output.stream,
        rejects: rejects.stream,
        rules,
      });
      const engine = await cleanStream({ input: open, output: engineOutput.stream, rejects: engineRejects.stream, rules });
      expect(opened).toBe(keep === 'last' ? 2 : 1);
      expect(output.stream.writableFinished).toBe(true);
      expect(output.bytes().equals(engineOutput.bytes())).toBe(true);
      expect(rejects.bytes().equals(engineRejects.bytes())).toBe(true);
      expect({ ...report, timings: undefined }).toEqual({ ...engine, timings: undefined });
    }
  });

  it('gives the fixture its expected files', async () => {
    const output = sink();
    const rejects = sink();
    await cleanInThread({
      open: () => createReadStream(join(FIXTURES, 'dirty.csv')),
      output: output.stream,
      rejects: rejects.stream,
      rules: JSON.parse(fixture('rules.json').toString('utf8')),
    });
    expect(output.bytes().equals(fixture('expected-clean.csv'))).toBe(true);
    expect(rejects.bytes().equals(fixture('expected-rejects.csv'))).toBe(true);
  });

  it('keeps the code of a CleaningError raised on the thread', async () => {
    const failed = cleanInThread({
      open: () => Readable.from([Buffer.from([0xff, 0xfe, 0, 0, 0x61, 0, 0, 0])]),
      output: sink().stream,
      rejects: sink().stream,
    });
    await expect(failed).rejects.toBeInstanceOf(CleaningError);
    await expect(failed).rejects.toMatchObject({ code: 'UNSUPPORTED_ENCODING' });
  });

  it('stops at once when its signal fires, leaving the outputs unfinished and the input closed', async () => {
    const controller = new AbortController();
    const output = new PassThrough();
    output.resume();
    let input: Readable | undefined;
    let rows = 0;
    const running = cleanInThread({
      open: () => (input = endless()),
      output,
      rejects: sink().stream,
      rules: { trimWhitespace: true, collapseWhitespace: true },
      signal: controller.signal,
      onProgress: (progress) => {
        rows = progress.rowsIn;
        if (rows > 10_000 && !controller.signal.aborted) controller.abort(new Error('time is up'));
      },
    });
    await expect(running).rejects.toThrow('time is up');
    expect(rows).toBeGreaterThan(10_000);
    expect(output.writableEnded).toBe(false);
    expect(input?.destroyed).toBe(true);
  });

  it('refuses to start on a signal that already fired', async () => {
    let opened = false;
    const running = cleanInThread({
      open: () => {
        opened = true;
        return endless();
      },
      output: sink().stream,
      rejects: sink().stream,
      signal: AbortSignal.abort(new Error('cancelled')),
    });
    await expect(running).rejects.toThrow('cancelled');
    expect(opened).toBe(false);
  });
});
