import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';
import { dialectOf, portableColumnTypes } from '../dialect';

/**
 * Task logs: the lines a handler writes with `ctx.log`, kept per task and attempt (capped by
 * TASK_LOG_MAX_LINES and TASK_LOG_MAX_BYTES per attempt). Ids are UUIDv7 made by the worker when
 * the line is logged: time-ordered (the paging cursor), and a batch written twice (a retried
 * flush whose first commit went unanswered) inserts nothing new. Rows go with their task
 * (retention deletes both in one transaction).
 */
export class TaskLogs1764000000013 implements MigrationInterface {
  name = 'TaskLogs1764000000013';

  async up(queryRunner: QueryRunner): Promise<void> {
    const { uuid, time, json } = portableColumnTypes(queryRunner);
    const mysql = dialectOf(queryRunner) === 'mysql';
    await queryRunner.createTable(
      new Table({
        name: 'task_logs',
        columns: [
          // One index, the primary key (task, line): a task's lines in order, and the only index
          // an insert maintains.
          { name: 'task_id', ...uuid, isPrimary: true },
          { name: 'id', ...uuid, isPrimary: true },
          { name: 'attempt', type: 'int' },
          // info | warn | error
          { name: 'level', type: 'varchar', length: '8' },
          { name: 'message', type: 'text' },
          { name: 'fields', ...json, isNullable: true },
          { name: 'logged_at', ...time },
        ],
      }),
    );
    if (mysql) await queryRunner.query('ALTER TABLE `task_logs` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('task_logs');
  }
}
