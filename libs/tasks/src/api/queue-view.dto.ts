import { ApiProperty } from '@nestjs/swagger';

/** A queue as Redis sees it now. */
export class QueueView {
  @ApiProperty({ example: 'system' })
  name: string;
  paused: boolean;
  /** Workers connected to it now. */
  workers: number;
  /** Jobs per BullMQ state (waiting, active, delayed, prioritized, failed, …). */
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, example: { waiting: 3, active: 1, delayed: 0 } })
  counts: Record<string, number>;
  /** The task types it runs. */
  taskTypes: string[];
}

export class QueueListView {
  queues: QueueView[];
}
