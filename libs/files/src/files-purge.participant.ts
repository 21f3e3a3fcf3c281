import { Injectable } from '@nestjs/common';
import { PurgeParticipant, type TaskPurgeParticipant } from '@conveyor/tasks';
import { FilesService } from './files.service';

const BATCH_SIZE = 500;

/** Task outputs go with their tasks; uploads go when they are older than the retention cutoff. */
@Injectable()
@PurgeParticipant()
export class FilesPurgeParticipant implements TaskPurgeParticipant {
  constructor(private readonly files: FilesService) {}

  async tasksPurged(taskIds: string[]): Promise<void> {
    await this.files.remove(await this.files.findForTasks(taskIds));
  }

  async purgeBefore(cutoff: Date, signal: AbortSignal): Promise<number> {
    let removed = 0;
    for (;;) {
      signal.throwIfAborted();
      const uploads = await this.files.findUploadsBefore(cutoff, BATCH_SIZE);
      if (uploads.length === 0) break;
      await this.files.remove(uploads);
      removed += uploads.length;
      if (uploads.length < BATCH_SIZE) break;
    }
    return removed;
  }
}
