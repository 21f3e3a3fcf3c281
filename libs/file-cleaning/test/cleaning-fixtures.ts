import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';

/** The cleaning fixtures: a dirty file, its rules, and the files the engine must make of it. */
export const FIXTURES = join(__dirname, 'fixtures');

export const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));

/** A stream that keeps what is written to it, for comparing outputs byte for byte. */
export function sink(): { stream: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { stream, bytes: () => Buffer.concat(chunks) };
}
