import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DomainError } from './domain-error';

describe('DomainError', () => {
  it('carries kind, code, message and details, and is an Error', () => {
    const error = DomainError.invalid('VALIDATION_FAILED', 'The request is invalid', [{ field: 'a', message: 'must be set' }]);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ kind: 'invalid', code: 'VALIDATION_FAILED', message: 'The request is invalid', name: 'DomainError' });
    expect(error.details).toEqual([{ field: 'a', message: 'must be set' }]);
  });

  it('names each common kind through its factory', () => {
    expect(DomainError.notFound('X', 'x').kind).toBe('not_found');
    expect(DomainError.conflict('X', 'x').kind).toBe('conflict');
    expect(DomainError.forbidden('X', 'x').kind).toBe('forbidden');
    expect(DomainError.unavailable('X', 'x').kind).toBe('unavailable');
  });

  it('withDetails keeps everything else, so a caller can say where the input sat', () => {
    const cause = new Error('root');
    const error = new DomainError('rate_limited', 'SLOW_DOWN', 'Too many', { retryAfterSeconds: 3, cause, details: [{ field: 'a', message: 'm' }] });
    const moved = error.withDetails([{ field: 'task.a', message: 'm' }]);
    expect(moved).toMatchObject({ kind: 'rate_limited', code: 'SLOW_DOWN', message: 'Too many', retryAfterSeconds: 3, cause });
    expect(moved.details).toEqual([{ field: 'task.a', message: 'm' }]);
  });

  it('depends on nothing (no Nest, no HTTP), so any layer can throw it', () => {
    const sources = readdirSync(__dirname).filter((name) => name.endsWith('.ts') && !name.endsWith('.spec.ts'));
    expect(sources).toContain('domain-error.ts');
    for (const name of sources) {
      const imports = [...readFileSync(join(__dirname, name), 'utf8').matchAll(/(?:from|import|require\()\s*'([^']+)'/g)].map((match) => match[1]);
      expect({ name, imports: imports.filter((path) => !path.startsWith('./')) }).toEqual({ name, imports: [] });
    }
  });
});
