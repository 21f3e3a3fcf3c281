import { DomainError } from '@conveyor/errors';

export const encodeCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url');

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[0-9a-f-]{36}$/.test(id)) throw DomainError.invalid('INVALID_CURSOR', 'The cursor is not one this API issued');
  return id;
}
