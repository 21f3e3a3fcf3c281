import { CreateTasks1764000000000 } from './1764000000000-create-tasks';
import { CreateApiKeys1764000000001 } from './1764000000001-create-api-keys';
import { CreateFiles1764000000002 } from './1764000000002-create-files';

/** Every migration, in order. New migrations are appended here. */
export const MIGRATIONS = [CreateTasks1764000000000, CreateApiKeys1764000000001, CreateFiles1764000000002];
