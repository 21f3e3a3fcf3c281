import { resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(__dirname, '../../../..');
const TYPE_SPEC = resolve(__dirname, 'typed-contracts.type-spec.ts');

/** Type-checks one file with the project's compiler options; the messages of its errors. */
function compile(file: string): string[] {
  const { config } = ts.readConfigFile(resolve(ROOT, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
  const program = ts.createProgram([file], { ...options, noEmit: true, incremental: false });
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const where = diagnostic.file ? `${diagnostic.file.fileName}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1}` : '';
    return `${where} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
  });
}

describe('typed task contracts (compile time)', () => {
  // Each @ts-expect-error there is a handler or enqueue the compiler must refuse; a loosened
  // check leaves a directive unused, which is an error of its own.
  it('refuses handlers and enqueues that do not match the contract, and accepts those that do', () => {
    expect(compile(TYPE_SPEC)).toEqual([]);
  }, 120_000);
});
