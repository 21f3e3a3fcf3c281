/** What a BullMQ job carries: the job name is the task type and the job id is the task id. */
export interface TaskJobData {
  tenantId: string;
  payload: Record<string, unknown>;
  timeoutMs: number;
  /** Epoch ms after which the task must not start. */
  expiresAt?: number;
}
