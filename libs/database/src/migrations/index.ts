import { CreateTasks1764000000000 } from './1764000000000-create-tasks';

/** Every migration, in order. New migrations are appended here. */
export const MIGRATIONS = [CreateTasks1764000000000];
