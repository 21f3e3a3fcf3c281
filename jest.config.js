// @ts-check
'use strict';
/**
 * Three tiers (STYLE §9): unit (`*.spec.ts`, pure logic), integration (`*.integration-spec.ts`,
 * real Redis + PostgreSQL + MariaDB), e2e (`*.e2e-spec.ts`, the built apps as processes).
 * Path aliases are read from tsconfig.json so they are declared once.
 */
const ts = require('typescript');
const { pathsToModuleNameMapper } = require('ts-jest');

const { config: tsconfig } = ts.readConfigFile('./tsconfig.json', ts.sys.readFile);
const moduleNameMapper = pathsToModuleNameMapper(tsconfig.compilerOptions.paths, { prefix: '<rootDir>/' });

const base = {
  rootDir: __dirname,
  moduleFileExtensions: ['js', 'json', 'ts'],
  testEnvironment: 'node',
  // Type checking is `npm run typecheck`'s job; tests only transpile, which is much faster.
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', diagnostics: false }] },
  moduleNameMapper,
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,scripts}/**/*.spec.ts'] },
    {
      ...base,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs}/**/*.integration-spec.ts'],
      globalSetup: '<rootDir>/test/global-setup.js',
    },
    {
      ...base,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/global-setup.js',
    },
  ],
  testTimeout: 60_000,
  // Two test files at a time, even on two cores (Jest's default there is one): integration and
  // e2e files mostly wait on processes, databases and timers, and each isolates itself (own
  // database, BullMQ prefix, ports; private Redis/PostgreSQL for fault tests).
  maxWorkers: 2,
};
