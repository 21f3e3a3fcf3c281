import { DomainError } from '@conveyor/errors';

/**
 * The opaque `cursor` of the list routes: the last row's id, base64url-encoded. Clients pass it
 * back unchanged; anything else is a 400 INVALID_CURSOR rather than a query on a made-up id.
 */
export const encodeCursor = (id: string): string => Buffer.from(id, 'utf8').toString('base64url');

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[0-9a-f-]{36}$/.test(id)) throw DomainError.invalid('INVALID_CURSOR', 'The cursor is not one this API issued');
  return id;
}
