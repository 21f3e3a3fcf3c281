import { CreateTasks1764000000000 } from './1764000000000-create-tasks';
import { CreateApiKeys1764000000001 } from './1764000000001-create-api-keys';
import { CreateFiles1764000000002 } from './1764000000002-create-files';
import { BinaryIdentifiers1764000000003 } from './1764000000003-binary-identifiers';
import { TaskLineage1764000000004 } from './1764000000004-task-lineage';
import { CreateSchedules1764000000005 } from './1764000000005-create-schedules';
import { TaskFlows1764000000006 } from './1764000000006-task-flows';
import { CreateWebhooks1764000000007 } from './1764000000007-create-webhooks';
import { TaskPipeline1764000000009 } from './1764000000009-task-pipeline';
import { TaskCallbacks1764000000010 } from './1764000000010-task-callbacks';
import { BackgroundMigrations1764000000011 } from './1764000000011-background-migrations';
import { WebhookSealedSecrets1764000000012 } from './1764000000012-webhook-sealed-secrets';
import { TaskLogs1764000000013 } from './1764000000013-task-logs';
import { TaskTraceId1764000000014 } from './1764000000014-task-trace-id';
import { TaskClientIds1764000000015 } from './1764000000015-task-client-ids';
import { TaskSparseIndexes1764000000017 } from './1764000000017-task-sparse-indexes';

/**
 * Every migration, in order. New migrations are appended here. On MySQL/MariaDB, text columns of
 * a new table must be `utf8mb4_bin` (see BinaryIdentifiers1764000000003), like PostgreSQL's.
 */
export const MIGRATIONS = [
  CreateTasks1764000000000,
  CreateApiKeys1764000000001,
  CreateFiles1764000000002,
  BinaryIdentifiers1764000000003,
  TaskLineage1764000000004,
  CreateSchedules1764000000005,
  TaskFlows1764000000006,
  CreateWebhooks1764000000007,
  TaskPipeline1764000000009,
  TaskCallbacks1764000000010,
  BackgroundMigrations1764000000011,
  WebhookSealedSecrets1764000000012,
  TaskLogs1764000000013,
  TaskTraceId1764000000014,
  TaskClientIds1764000000015,
  TaskSparseIndexes1764000000017,
];
