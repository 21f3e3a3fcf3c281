import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FIXTURES, fixture, sink } from '../../test/cleaning-fixtures';
import { cleanStream } from './clean-stream';

/**
 * The dirty fixture, cleaned by the engine, must equal the expected files byte for byte. The
 * same files serve the e2e test of `file.clean` (upload, clean on the worker, download, compare).
 * To change them on purpose, regenerate with the engine and review every line of the diff.
 */

async function cleanFixture(open: () => Readable) {
  const output = sink();
  const rejects = sink();
  const report = await cleanStream({
    input: open,
    output: output.stream,
    rejects: rejects.stream,
    rules: JSON.parse(fixture('rules.json').toString('utf8')),
  });
  return { output: output.bytes(), rejects: rejects.bytes(), report };
}

describe('the dirty.csv fixture', () => {
  it('cleans to expected-clean.csv and expected-rejects.csv, byte for byte, with the expected report', async () => {
    const { output, rejects, report } = await cleanFixture(() => createReadStream(join(FIXTURES, 'dirty.csv')));
    expect(output.toString('utf8')).toBe(fixture('expected-clean.csv').toString('utf8'));
    expect(output.equals(fixture('expected-clean.csv'))).toBe(true);
    expect(rejects.equals(fixture('expected-rejects.csv'))).toBe(true);
    const { timings, ...stable } = report;
    expect(timings.totalMs).toBeGreaterThanOrEqual(0);
    expect(stable).toEqual(JSON.parse(fixture('expected-report.json').toString('utf8')));
  });

  it('gives the same bytes however the file is chunked', async () => {
    const dirty = fixture('dirty.csv');
    for (const size of [1, 2, 7, 64]) {
      const pieces: Buffer[] = [];
      for (let i = 0; i < dirty.length; i += size) pieces.push(dirty.subarray(i, i + size));
      const { output, rejects } = await cleanFixture(() => Readable.from(pieces));
      expect(output.equals(fixture('expected-clean.csv'))).toBe(true);
      expect(rejects.equals(fixture('expected-rejects.csv'))).toBe(true);
    }
  });
});
