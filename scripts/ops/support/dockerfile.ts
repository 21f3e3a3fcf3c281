import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Just enough of Docker's file formats to check our Dockerfiles without an engine: instructions
 * by stage (continuation lines joined, comments dropped) and the .dockerignore matcher.
 */

export const ROOT = join(__dirname, '..', '..', '..');

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  name?: string;
  base: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs before the first FROM (usable in FROM lines) */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

export function readDockerfile(file: string): Dockerfile {
  return parseDockerfile(readFileSync(join(ROOT, file), 'utf8'));
}

export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  let pending = '';
  let startLine = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (!pending && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    if (pending && line.trimStart().startsWith('#')) return; // comments inside a continuation
    if (!pending) startLine = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = `${pending}${line}`.trim();
    pending = '';
    const [, keyword, args] = /^(\S+)\s*(.*)$/s.exec(full)!;
    instructions.push({ keyword: keyword.toUpperCase(), args: args.replace(/\s+/g, ' ').trim(), line: startLine });
  });

  const result: Dockerfile = { globalArgs: {}, stages: [] };
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [base, as, name] = instruction.args.split(' ').filter((part) => !part.startsWith('--'));
      result.stages.push({ base, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (result.stages.length === 0) {
      if (instruction.keyword === 'ARG') {
        const [name, value = ''] = instruction.args.split('=');
        result.globalArgs[name] = value;
      }
    } else {
      result.stages.at(-1)!.instructions.push(instruction);
    }
  }
  return result;
}

/** `FROM ${NODE_IMAGE}` → the ARG's default. */
export function resolveBase(dockerfile: Dockerfile, stage: Stage): string {
  return stage.base.replace(/\$\{?(\w+)\}?/g, (_, name: string) => dockerfile.globalArgs[name] ?? '');
}

/**
 * The command of ENTRYPOINT/CMD/RUN, or of HEALTHCHECK after its options: the exec form
 * (`["a", "b"]`) as an array, the shell form as `["/bin/sh", "-c", text]`.
 */
export function commandOf(args: string): string[] {
  const text = args.replace(/^(--\S+\s+)*CMD\s+/i, '');
  if (text.startsWith('[')) return JSON.parse(text) as string[];
  return ['/bin/sh', '-c', text];
}

/** A stage with everything it inherits: `FROM runtime AS worker` includes runtime's instructions. */
export function flattenStage(dockerfile: Dockerfile, stage: Stage): Instruction[] {
  const parent = dockerfile.stages.find((s) => s.name === stage.base);
  return parent ? [...flattenStage(dockerfile, parent), ...stage.instructions] : stage.instructions;
}

/** `COPY [--from=x] [--chown=…] src… dest` → sources, destination and the --from stage. */
export function parseCopy(args: string): { from?: string; sources: string[]; dest: string } {
  const parts = args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(' ');
  const from = parts.find((part) => part.startsWith('--from='))?.slice('--from='.length);
  const paths = parts.filter((part) => !part.startsWith('--'));
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

/** ENV lines (`A=1 B=2` or the old `A 1`) → a map. */
export function envOf(instructions: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of instructions.filter((i) => i.keyword === 'ENV')) {
    if (!args.includes('=')) {
      const [name, ...value] = args.split(' ');
      env[name] = value.join(' ');
      continue;
    }
    for (const [, name, value] of args.matchAll(/(\w+)=("[^"]*"|\S*)/g)) env[name] = value.replace(/^"|"$/g, '');
  }
  return env;
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i];
    if (char === '*' && glob[i + 1] === '*') {
      source += '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/**
 * Docker's .dockerignore rules: patterns in order, the last one that matches a path or one of
 * its parent directories wins; `!` re-includes. Returns "is this path left out of the context".
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = (negate ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
      return { negate, regexp: globToRegExp(pattern) };
    });
  return (path: string) => {
    const parts = path.replace(/^\.?\/+|\/+$/g, '').split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) if (candidates.some((candidate) => rule.regexp.test(candidate))) excluded = !rule.negate;
    return excluded;
  };
}
