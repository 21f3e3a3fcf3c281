import type { CompiledRules } from './cleaning-plan';
import type { CleaningReport } from './cleaning-report';
import { CsvRecordSource } from './csv-records';
import type { DedupeIndex } from './dedupe-index';
import { InputDecoder } from './input-decoder';
import { JsonlRecordSource } from './jsonl-records';
import type { OutputSink } from './output-sink';
import { RowPipeline, type PassLimits, type PassMode, type PassSettings } from './row-pipeline';

export type { PassLimits, PassMode, PassSettings } from './row-pipeline';

/**
 * One read of the input: decode → a record source (csv-records / jsonl-records: parse, cell
 * rules) → the row pipeline (row-pipeline: header mapping, column types and case, dedupe,
 * write).
 */
export class CleaningPass {
  readonly decoder: InputDecoder;
  private readonly rows: RowPipeline;
  private readonly csv: CsvRecordSource | undefined;
  private readonly jsonl: JsonlRecordSource | undefined;

  constructor(
    settings: PassSettings,
    rules: CompiledRules,
    report: CleaningReport,
    limits: PassLimits,
    mode: PassMode,
    output: OutputSink,
    rejects: OutputSink,
    index: DedupeIndex | undefined,
  ) {
    this.decoder = new InputDecoder(settings.encoding);
    this.rows = new RowPipeline(settings, rules, report, limits, mode, output, rejects, index, this.decoder);
    if (settings.format === 'jsonl') this.jsonl = new JsonlRecordSource(this.rows);
    else this.csv = new CsvRecordSource(this.rows);
  }

  feed(chunk: Buffer): void {
    const text = this.decoder.decode(chunk);
    if (text.length > 0) this.parse(text);
  }

  end(): void {
    const text = this.decoder.end();
    if (text.length > 0) this.parse(text);
    if (this.csv) this.csv.parser.end();
    else this.jsonl!.reader.end();
    this.finish();
  }

  private parse(text: string): void {
    if (this.csv) this.csv.parser.push(text);
    else this.jsonl!.reader.push(text);
  }

  private finish(): void {
    const rows = this.rows;
    const report = rows.report;
    const sawRecords = (this.csv ?? this.jsonl!).headerDone;
    if (!sawRecords) {
      rows.problem('empty-file', 0, report.parse.counts.blankLines > 0 ? 'the file has only blank lines' : 'the file is empty');
    }
    rows.finish(sawRecords);
    report.parse.counts.invalidUtf8Bytes = this.decoder.invalidBytes;
    if (this.decoder.bom) report.input.bom = true;
  }
}
