// @ts-check
'use strict';
/**
 * Layer rules of STYLE §3–4, enforced by `libs/testing/src/architecture.spec.ts` (unit tier) and
 * by hand with `npm run lint:deps`.
 *
 * Paths are resolved paths relative to the repository root: `@conveyor/<lib>` imports resolve
 * through tsconfig.json `paths` to `libs/<lib>/src/index.ts`, so "only via the alias" can be
 * checked as "only to the other lib's index.ts".
 */

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Import cycles make module load order (and Nest provider resolution) fragile. ' +
        'Type-only edges are erased at compile time, so a cycle through them alone is not reported.',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'lib-not-to-app',
      severity: 'error',
      comment: 'Libs hold the logic and never depend on a bootstrap app (STYLE §4).',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    {
      name: 'api-app-not-to-worker-app',
      severity: 'error',
      comment: 'Apps never import each other: shared code belongs in a lib (STYLE §4, the Immich lesson).',
      from: { path: '^apps/api/' },
      to: { path: '^apps/worker/' },
    },
    {
      name: 'worker-app-not-to-api-app',
      severity: 'error',
      comment: 'Apps never import each other: shared code belongs in a lib (STYLE §4).',
      from: { path: '^apps/worker/' },
      to: { path: '^apps/api/' },
    },
    {
      name: 'lib-to-lib-via-index-only',
      severity: 'error',
      comment:
        'A lib uses another lib only through its public faces, `@conveyor/<lib>` (libs/<lib>/src/index.ts) and its `/api`, `/worker` ' +
        'or `/s3` entries, never by a deep relative path into its src.',
      from: { path: '^libs/([^/]+)/' },
      to: { path: '^libs/[^/]+/', pathNot: ['^libs/$1/', '^libs/[^/]+/src/((api|worker|s3)/)?index\\.ts$'] },
    },
    {
      name: 'app-to-lib-via-index-only',
      severity: 'error',
      comment: 'Apps, too, see a lib only through `@conveyor/<lib>`.',
      from: { path: '^apps/' },
      to: { path: '^libs/[^/]+/', pathNot: '^libs/[^/]+/src/((api|worker|s3|tracing)/)?index\\.ts$' },
    },
    {
      name: 'core-not-to-domain',
      severity: 'error',
      comment:
        'The core libs (config, database, errors, queue, tasks, observability, health, http, auth) never import a domain lib: a domain ' +
        'plugs into the core through what the core declares (task contracts and handlers, TaskTransitionHooks, ' +
        'PurgeParticipant), so a new domain never edits the core. Tests may use a domain as a fixture.',
      from: { path: '^libs/(config|database|errors|queue|tasks|observability|health|http|auth)/', pathNot: '\\.(spec|integration-spec)\\.ts$' },
      to: { path: '^libs/(files|file-cleaning|webhooks|exports|schedules|background-migrations|system-tasks|dashboard)/' },
    },
    {
      name: 'worker-app-reaches-no-controller',
      severity: 'error',
      comment:
        'The worker holds no controller (STYLE §3): nothing it loads may (transitively) reach a ' +
        "lib's HTTP surface (its api/ folder or any *.controller.ts).",
      from: { path: '^apps/worker/' },
      to: { path: ['^libs/[^/]+/src/api/', '\\.controller\\.ts$'], reachable: true },
    },
    {
      name: 'api-app-reaches-no-processor',
      severity: 'error',
      comment:
        'The API never holds a processor (STYLE §3): nothing it loads may (transitively) reach a ' +
        "lib's worker runtime (its worker/ folder) or a task handler/processor.",
      from: { path: '^apps/api/' },
      to: { path: ['^libs/[^/]+/src/worker/', '\\.(handler|processor)\\.ts$'], reachable: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment:
        'An import that does not resolve (a typo, or a @conveyor alias missing from tsconfig paths) ' + 'would also make every rule above pass vacuously.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules'] },
    exclude: { path: ['(^|/)dist/', '(^|/)node_modules/'] },
    tsConfig: { fileName: 'tsconfig.json' },
    // Type-only imports count for the layer rules: a type import still couples the code.
    tsPreCompilationDeps: true,
    moduleSystems: ['cjs', 'es6'],
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.json'],
    },
    skipAnalysisNotInRules: true,
  },
};
