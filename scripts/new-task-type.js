#!/usr/bin/env node
'use strict';
/**
 * `npm run new:task-type -- <domain>.<action>` (e.g. `invoice.render`): scaffolds a domain lib
 * `libs/<domain>` with its contract (queue, task type, payload class, result type), a handler,
 * its unit test, the API and worker modules, and wires it: tsconfig paths, nest-cli project,
 * the API and worker root modules. Then `npm run build && npm run client:types`.
 * Refuses a name that is not kebab-case `<domain>.<action>`, or a lib that exists.
 */
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const NAME = /^([a-z][a-z0-9]*(?:-[a-z0-9]+)*)\.([a-z][a-z0-9]*(?:-[a-z0-9]+)*)$/;

const pascal = (kebab) => kebab.replace(/(^|-)([a-z0-9])/g, (_, __, c) => c.toUpperCase());
const constant = (kebab) => kebab.replace(/-/g, '_').toUpperCase();

function files(domain, action, type) {
  const D = pascal(domain);
  const A = pascal(action);
  const TYPE = `${constant(domain)}_${constant(action)}`;
  return {
    [`libs/${domain}/src/${domain}.contract.ts`]: `import { IsOptional, IsString, MaxLength } from 'class-validator';
import { defineTaskType } from '@conveyor/tasks';

/** Queue of the ${domain} task types. A stored name: renaming it strands queued jobs. */
export const ${constant(domain)}_QUEUE = '${domain}';

/** What a caller sends; the API checks it with these rules before anything is stored. */
export class ${A}Payload {
  /** What to ${action}. */
  @IsString()
  @MaxLength(200)
  subject: string;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  note?: string;
}

/** What the handler returns; stored as the task's result. */
export interface ${A}Result {
  subject: string;
  done: true;
}

export const ${TYPE} = defineTaskType<${A}Payload, ${A}Result>({
  type: '${type}',
  queue: ${constant(domain)}_QUEUE,
  description: '${A}s a subject (scaffolded by npm run new:task-type; describe what it does).',
  payload: ${A}Payload,
  defaults: { maxAttempts: 3 },
});

/** Every task type of this domain, registered by its API and worker modules. */
export const ${constant(domain)}_TASK_TYPES = [${TYPE}];
`,
    [`libs/${domain}/src/worker/${action}.handler.ts`]: `import { HandlesTask, type TaskContext, type TaskHandler } from '@conveyor/tasks';
import { ${TYPE}, type ${A}Payload, type ${A}Result } from '../${domain}.contract';

/** Runs at least once per task: make it safe to run again (a retry, a worker killed mid-task). */
@HandlesTask(${TYPE})
export class ${A}Handler implements TaskHandler<${A}Payload, ${A}Result> {
  handle(payload: ${A}Payload, context: TaskContext): Promise<${A}Result> {
    context.progress(100, \`${action} \${payload.subject}\`);
    return Promise.resolve({ subject: payload.subject, done: true });
  }
}
`,
    [`libs/${domain}/src/worker/${action}.handler.spec.ts`]: `import type { TaskContext } from '@conveyor/tasks';
import { ${A}Handler } from './${action}.handler';

describe('${A}Handler', () => {
  it('returns its result and reports progress', async () => {
    const progress = jest.fn();
    const context = { progress, signal: new AbortController().signal } as unknown as TaskContext;
    await expect(new ${A}Handler().handle({ subject: 'march' }, context)).resolves.toEqual({ subject: 'march', done: true });
    expect(progress).toHaveBeenCalledWith(100, '${action} march');
  });
});
`,
    [`libs/${domain}/src/worker/${domain}-worker.module.ts`]: `import { Module } from '@nestjs/common';
import { TaskContractsModule } from '@conveyor/tasks';
import { ${constant(domain)}_TASK_TYPES } from '../${domain}.contract';
import { ${A}Handler } from './${action}.handler';

/** The handlers of the ${domain} task types. */
@Module({ imports: [TaskContractsModule.forFeature(${constant(domain)}_TASK_TYPES)], providers: [${A}Handler] })
export class ${D}WorkerModule {}
`,
    [`libs/${domain}/src/worker/index.ts`]: `export * from './${domain}-worker.module';\n`,
    [`libs/${domain}/src/api/${domain}-api.module.ts`]: `import { Module } from '@nestjs/common';
import { TaskContractsModule } from '@conveyor/tasks';
import { ${constant(domain)}_TASK_TYPES } from '../${domain}.contract';

/** Makes the ${domain} task types known to the API (validation, GET /v1/task-types, OpenAPI). */
@Module({ imports: [TaskContractsModule.forFeature(${constant(domain)}_TASK_TYPES)] })
export class ${D}ApiModule {}
`,
    [`libs/${domain}/src/api/index.ts`]: `export * from './${domain}-api.module';\n`,
    [`libs/${domain}/src/index.ts`]: `// The ${domain} domain's contract. Modules: \`@conveyor/${domain}/api\` and \`@conveyor/${domain}/worker\`.\nexport * from './${domain}.contract';\n`,
  };
}

/** Adds an import and a module entry to an app's root module, before the health module. */
function wireModule(file, importLine, moduleName, before) {
  let text = fs.readFileSync(file, 'utf8');
  const lastImport = text.lastIndexOf('\nimport ');
  const endOfImport = text.indexOf('\n', lastImport + 1);
  text = `${text.slice(0, endOfImport + 1)}${importLine}\n${text.slice(endOfImport + 1)}`;
  if (!text.includes(`    ${before},`)) throw new Error(`${file}: no "${before}," entry to insert before`);
  text = text.replace(`    ${before},`, `    ${moduleName},\n    ${before},`);
  fs.writeFileSync(file, text);
}

/** Formats what it wrote as the repository does (prettier with the repository's config). */
async function format(relativePaths) {
  const prettier = require('prettier');
  for (const relative of relativePaths) {
    const file = path.join(ROOT, relative);
    const options = await prettier.resolveConfig(file);
    fs.writeFileSync(file, await prettier.format(fs.readFileSync(file, 'utf8'), { ...options, filepath: file }));
  }
}

async function main() {
  const name = process.argv[2];
  const match = NAME.exec(name ?? '');
  if (!match) {
    process.stderr.write('usage: npm run new:task-type -- <domain>.<action>   (kebab-case, e.g. invoice.render)\n');
    process.exit(2);
  }
  const [, domain, action] = match;
  if (fs.existsSync(path.join(ROOT, 'libs', domain))) {
    process.stderr.write(`libs/${domain} exists: add the type to its contract by hand (see docs/guides/add-a-task-type.md)\n`);
    process.exit(1);
  }
  const scaffold = files(domain, action, name);
  for (const [file, text] of Object.entries(scaffold)) {
    fs.mkdirSync(path.dirname(path.join(ROOT, file)), { recursive: true });
    fs.writeFileSync(path.join(ROOT, file), text);
  }
  const tsconfigFile = path.join(ROOT, 'tsconfig.json');
  const tsconfig = JSON.parse(fs.readFileSync(tsconfigFile, 'utf8'));
  Object.assign(tsconfig.compilerOptions.paths, {
    [`@conveyor/${domain}`]: [`./libs/${domain}/src`],
    [`@conveyor/${domain}/api`]: [`./libs/${domain}/src/api`],
    [`@conveyor/${domain}/worker`]: [`./libs/${domain}/src/worker`],
  });
  fs.writeFileSync(tsconfigFile, `${JSON.stringify(tsconfig, null, 2)}\n`);
  const nestCliFile = path.join(ROOT, 'nest-cli.json');
  const nestCli = JSON.parse(fs.readFileSync(nestCliFile, 'utf8'));
  nestCli.projects[domain] = { type: 'library', root: `libs/${domain}`, entryFile: 'index', sourceRoot: `libs/${domain}/src` };
  fs.writeFileSync(nestCliFile, `${JSON.stringify(nestCli, null, 2)}\n`);
  const D = pascal(domain);
  wireModule(path.join(ROOT, 'apps/api/src/api.module.ts'), `import { ${D}ApiModule } from '@conveyor/${domain}/api';`, `${D}ApiModule`, 'HealthApiModule');
  wireModule(
    path.join(ROOT, 'apps/worker/src/worker.module.ts'),
    `import { ${D}WorkerModule } from '@conveyor/${domain}/worker';`,
    `${D}WorkerModule`,
    'HealthWorkerModule',
  );
  await format([...Object.keys(scaffold), 'tsconfig.json', 'nest-cli.json', 'apps/api/src/api.module.ts', 'apps/worker/src/worker.module.ts']);
  process.stdout.write(
    `created libs/${domain} with task type ${name}, wired into the API and the worker.\n` +
      `next: edit libs/${domain}/src/${domain}.contract.ts and the handler, then \`npm run build && npm run client:types\`\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
