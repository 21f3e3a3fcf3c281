'use strict';
/**
 * Loads the cleaning engine (libs/file-cleaning/src/cleaning, plain TypeScript) without a build
 * step: each non-spec .ts file of that folder is transpiled with the project's own `typescript`
 * package (`ts.transpileModule`, CommonJS, the repo's tsconfig options: decorators and their
 * metadata included, as ts-jest does for the unit tests) into a cache folder keyed by a hash of
 * the sources and of the TypeScript version, then required from there.
 *
 * Why this works: the engine imports only relative paths and npm packages (reflect-metadata,
 * class-validator, class-transformer, class-validator-jsonschema, libphonenumber-js), never an
 * `@conveyor/*` alias, so a file-for-file transpile needs no path mapping. The cache sits under
 * bench/file-cleaning/.data/ (inside the repo, so Node resolves those packages from the root
 * node_modules; the folder ignores itself with its own .gitignore). A changed source gives a new
 * hash, so the bench always runs the engine as it is on disk. No type checking: that is
 * `npm run typecheck`'s job.
 *
 *   const { cleanStream } = require('./load-engine').loadEngine();
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const ENGINE_DIR = path.join(ROOT, 'libs', 'file-cleaning', 'src', 'cleaning');
const DATA_DIR = path.join(__dirname, '.data');

function ensureDataDir() {
  fs.mkdirSync(DATA_DIR, { recursive: true });
  const ignore = path.join(DATA_DIR, '.gitignore');
  if (!fs.existsSync(ignore)) fs.writeFileSync(ignore, '# generated benchmark inputs, outputs and the transpiled engine\n*\n');
  return DATA_DIR;
}

function sourceFiles(dir) {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.spec.ts') && !name.endsWith('.d.ts'))
    .sort();
}

/** Transpiles the engine (if its sources changed) and returns the folder holding the .js files. */
function transpileEngine({ sourceDir = ENGINE_DIR } = {}) {
  // The compiler is loaded only when the cache misses: requiring it costs ~40 MB and ~150 ms,
  // which would otherwise show up in every measured engine run.
  const tsVersion = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'typescript', 'package.json'), 'utf8')).version;
  const files = sourceFiles(sourceDir);
  const hash = crypto.createHash('sha256').update(tsVersion);
  const sources = files.map((name) => {
    const text = fs.readFileSync(path.join(sourceDir, name), 'utf8');
    hash.update(name).update('\0').update(text).update('\0');
    return { name, text };
  });
  const key = hash.digest('hex').slice(0, 16);
  const outDir = path.join(ensureDataDir(), 'engine', key);
  const marker = path.join(outDir, '.complete');
  if (fs.existsSync(marker)) return outDir;

  const ts = require(path.join(ROOT, 'node_modules', 'typescript'));
  // The repo's own options (module nodenext → CommonJS here, as no package.json says "type":
  // "module"), minus the build-only ones.
  const { config } = ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile);
  const { options: parsed } = ts.convertCompilerOptionsFromJson(config.compilerOptions, ROOT);
  const compilerOptions = { ...parsed, incremental: false, sourceMap: false, declaration: false, paths: undefined, outDir: undefined };
  const temp = `${outDir}.tmp-${process.pid}`;
  fs.rmSync(temp, { recursive: true, force: true });
  fs.mkdirSync(temp, { recursive: true });
  try {
    for (const { name, text } of sources) {
      const result = ts.transpileModule(text, { compilerOptions, fileName: path.join(sourceDir, name), reportDiagnostics: true });
      const errors = (result.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
      if (errors.length > 0) {
        throw new Error(`transpiling ${name}: ${errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; ')}`);
      }
      fs.writeFileSync(path.join(temp, name.replace(/\.ts$/, '.js')), result.outputText);
    }
  } catch (error) {
    fs.rmSync(temp, { recursive: true, force: true });
    throw error;
  }
  fs.writeFileSync(path.join(temp, '.complete'), `${new Date().toISOString()} typescript ${ts.version}\n`);
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.renameSync(temp, outDir);
  return outDir;
}

/** The engine's public module (libs/file-cleaning/src/cleaning/index.ts), transpiled. */
function loadEngine(options) {
  return require(path.join(transpileEngine(options), 'index.js'));
}

module.exports = { ROOT, ENGINE_DIR, DATA_DIR, ensureDataDir, transpileEngine, loadEngine };

if (require.main === module) {
  process.stdout.write(`${transpileEngine({ sourceDir: process.argv[2] ? path.resolve(process.argv[2]) : ENGINE_DIR })}\n`);
}
