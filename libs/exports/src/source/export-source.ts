import type { Cell, ExportColumn } from '../encoding/row-encoder';

/** Where an export's rows come from: its columns, a count taken at the start, then pages of rows. */
export interface ExportRowSource {
  /** Base of the file's display name. */
  readonly name: string;
  columns(): ExportColumn[] | Promise<ExportColumn[]>;
  /** Rows expected, for the progress percentage; null when unknown before reading. */
  count(): Promise<number | null>;
  pages(signal?: AbortSignal): AsyncIterable<Cell[][]>;
}
