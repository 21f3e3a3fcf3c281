// @ts-check
/**
 * `npm run lint`. TypeScript gets typescript-eslint's type-aware rules (the slow part, through the
 * TypeScript project service); the CommonJS scripts and benchmarks get the untyped JS rules.
 * Formatting is Prettier's job: eslint-config-prettier turns off every rule it would fight.
 */
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const unusedVars = [
  'error',
  { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
];

export default tseslint.config(
  { ignores: ['dist/', '**/dist/', 'coverage/', 'data/', 'logs/', 'node_modules/', 'bench/results/', 'bench/file-cleaning/.data/', '**/fixtures/'] },
  js.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { 'no-unused-vars': unusedVars },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: globals.node },
  },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: globals.node,
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': unusedVars,
      // Nest and Fastify hooks and interface methods are async by contract; dropping `async` would turn a throw into a synchronous one.
      '@typescript-eslint/require-await': 'off',
      // Nest's HttpStatus enum is compared with numeric statuses (`getStatus()` returns a number).
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
      // Forwarding a rejection reason we did not create (an AbortSignal's reason, a stream's 'error') is fine; creating one must still be an Error.
      // Decorators and reflect-metadata deal in class constructors, which TypeScript's own decorator types give as `Function`.
      '@typescript-eslint/no-unsafe-function-type': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
    },
  },
  {
    // The web console: browser code with Preact JSX, type-checked through apps/console/tsconfig.json.
    files: ['apps/console/**/*.{ts,tsx,mts}'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: globals.browser,
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
      '@typescript-eslint/no-unused-vars': unusedVars,
    },
  },
  {
    // Tests and their helpers: response bodies and parsed JSON are `any`, mocks are asserted on unbound.
    files: ['**/*.spec.ts', '**/*.integration-spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts', 'libs/testing/**/*.ts', 'scripts/ops/support/**/*.ts'],
    rules: {
      // Test assertions read untyped JSON (HTTP bodies, files, logs); typing every one adds noise, not safety.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Test doubles and deliberately malformed inputs are typed `any` on purpose.
      '@typescript-eslint/no-explicit-any': 'off',
      // `expect(mock.method).toHaveBeenCalled()` passes a method unbound by design.
      '@typescript-eslint/unbound-method': 'off',
      // Failure messages stringify whatever was caught or parsed; "[object Object]" there costs nothing.
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  prettier,
);
