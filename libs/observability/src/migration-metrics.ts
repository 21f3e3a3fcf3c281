import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import type { Counter, Histogram } from 'prom-client';
import { METRIC } from './metric-names';

const BATCH_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Per background migration: rows and batches committed (rate() gives rows/s), failed batches, batch time. */
export const MIGRATION_METRIC_PROVIDERS = [
  makeCounterProvider({ name: METRIC.migrationRows, help: 'Rows a background migration processed in committed batches', labelNames: ['migration'] }),
  makeCounterProvider({ name: METRIC.migrationBatches, help: 'Committed batches of a background migration', labelNames: ['migration'] }),
  makeCounterProvider({
    name: METRIC.migrationFailures,
    help: 'Failed batches of a background migration (rolled back; retried unless the migration failed)',
    labelNames: ['migration'],
  }),
  makeHistogramProvider({
    name: METRIC.migrationBatchDuration,
    help: 'Time of one committed batch of a background migration, lock to commit',
    labelNames: ['migration'],
    buckets: BATCH_BUCKETS,
  }),
];

@Injectable()
export class MigrationMetrics {
  constructor(
    @InjectMetric(METRIC.migrationRows) private readonly rows: Counter<string>,
    @InjectMetric(METRIC.migrationBatches) private readonly batches: Counter<string>,
    @InjectMetric(METRIC.migrationFailures) private readonly failures: Counter<string>,
    @InjectMetric(METRIC.migrationBatchDuration) private readonly duration: Histogram<string>,
  ) {}

  batchCommitted(migration: string, rows: number, seconds: number): void {
    this.rows.inc({ migration }, rows);
    this.batches.inc({ migration });
    this.duration.observe({ migration }, seconds);
  }

  batchFailed(migration: string): void {
    this.failures.inc({ migration });
  }
}
