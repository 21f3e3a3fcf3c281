import { Param } from '@nestjs/common';
import { DomainError } from '@conveyor/errors';
import { CLIENT_TASK_ID, CLIENT_TASK_ID_MAX } from '../intake/task-request';

export function taskNotFound(): DomainError {
  return DomainError.notFound('TASK_NOT_FOUND', 'No such task');
}

/**
 * A task is named by its ledger id or by the id its client chose. Unknown or malformed ids are
 * simply "not found": ids do not leak through error shapes.
 */
export const TaskId = () =>
  Param('id', {
    transform: (value: string) => {
      if (value.length > CLIENT_TASK_ID_MAX || !CLIENT_TASK_ID.test(value)) throw taskNotFound();
      return value;
    },
  });
