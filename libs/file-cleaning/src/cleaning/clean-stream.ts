import type { Readable, Writable } from 'node:stream';
import { CleaningError } from './cleaning-error';
import { CleaningPass, type PassLimits, type PassMode, type PassSettings } from './cleaning-pass';
import { compileRules, type CompiledRules } from './cleaning-plan';
import { emptyReport, type CleaningReport } from './cleaning-report';
import type { CleaningRules } from './cleaning-rules.dto';
import { DedupeIndex } from './dedupe-index';
import { CANDIDATE_DELIMITERS, sniffDelimiter, sniffFormat, sniffLineEnding, type FileFormat } from './format-sniffer';
import { bomEncoding, sniffEncoding, type InputEncoding, type TextEncoding } from './input-decoder';
import { OutputSink } from './output-sink';

export interface CleaningProgress {
  /** Bytes read in the current pass. */
  bytesRead: number;
  totalBytes: number | undefined;
  /** 1, or 2 for keep:"last"'s second read. */
  pass: number;
  passes: number;
  /** 0..1 over all passes; undefined without totalBytes. */
  fraction: number | undefined;
  /** Data rows read so far in this pass. */
  rowsIn: number;
}

export interface CleaningLimits {
  /** Longest record (or JSON line), in characters; longer ones are rejected. Default 1 Mi. */
  maxRecordChars?: number;
  /** Parse problems listed with their line (all are counted). Default 100. */
  maxProblems?: number;
  /** Memory budget of the dedupe index. Default 1 GiB (≈ 45–90 M distinct keys). */
  maxDedupeIndexBytes?: number;
  /** Distinct JSON keys accepted in a JSON Lines file. Default 10 000. */
  maxColumns?: number;
  /** Warnings kept in the report. Default 100. */
  maxWarnings?: number;
}

export interface CleanStreamOptions {
  /**
   * The dirty file. A function that opens it is needed for dedupe keep:"last", which reads the
   * file twice; it is called once per read.
   */
  input: Readable | (() => Readable);
  /** Size of the input, for progress fractions. */
  totalBytes?: number;
  /** Sniffed from the first bytes when absent: `{` → jsonl, else the delimiter decides. */
  format?: FileFormat;
  /** csv: sniffed among , TAB ; | when absent; tsv: TAB. */
  delimiter?: string;
  /**
   * Detected when absent: BOM or valid UTF-8 → utf-8, otherwise latin1 (as Windows-1252). A
   * UTF-16 BOM means UTF-16 whatever is declared; a UTF-32 one fails with UNSUPPORTED_ENCODING.
   */
  encoding?: InputEncoding;
  rules?: CleaningRules;
  /** The cleaned file, UTF-8. Ended on success (see `endStreams`). */
  output: Writable;
  /** Output format; default the input's. csv keeps the input's delimiter unless told. */
  outputFormat?: { format?: FileFormat; delimiter?: string; bom?: boolean };
  /** Rejected rows in the input's format, with `_line` and `_reason`. Optional. */
  rejects?: Writable;
  /** Stops the run within a chunk; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called after every input chunk; throttle in the caller. */
  onProgress?: (progress: CleaningProgress) => void;
  limits?: CleaningLimits;
  /** End `output` and `rejects` when done (default true). On failure they are never ended. */
  endStreams?: boolean;
}

const HEAD_BYTES = 64 * 1024;
const SLICE_BYTES = 64 * 1024;

/** Reads chunks from a stream, stops waiting when the signal fires, and times the waits. */
class ChunkReader {
  waitedMs = 0;
  bytes = 0;
  private readonly iterator: AsyncIterator<Buffer | string>;
  private readonly aborted: Promise<never> | undefined;

  constructor(
    private readonly stream: Readable,
    signal: AbortSignal | undefined,
  ) {
    this.iterator = stream[Symbol.asyncIterator]();
    if (signal) {
      this.aborted = new Promise<never>((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
      this.aborted.catch(() => undefined);
    }
  }

  async next(): Promise<Buffer | undefined> {
    const started = performance.now();
    const pending = this.iterator.next();
    const result = this.aborted ? await Promise.race([pending, this.aborted]) : await pending;
    this.waitedMs += performance.now() - started;
    if (result.done) return undefined;
    const chunk = typeof result.value === 'string' ? Buffer.from(result.value) : result.value;
    this.bytes += chunk.length;
    return chunk;
  }

  /** The first bytes (up to HEAD_BYTES or the whole input), for sniffing. */
  async head(): Promise<Buffer[]> {
    const chunks: Buffer[] = [];
    let size = 0;
    while (size < HEAD_BYTES) {
      const chunk = await this.next();
      if (!chunk) break;
      chunks.push(chunk);
      size += chunk.length;
    }
    return chunks;
  }

  close(): void {
    if (!this.stream.destroyed) this.stream.destroy();
  }
}

function resolveSettings(options: CleanStreamOptions, head: Buffer): { settings: PassSettings; detected: CleaningReport['input']['detected'] } {
  const detected = { format: false, delimiter: false, encoding: false };
  const bom = bomEncoding(head);
  if (bom === 'utf-32le' || bom === 'utf-32be') {
    throw new CleaningError(
      'UNSUPPORTED_ENCODING',
      `the input starts with a ${bom.toUpperCase()} byte order mark; save it as UTF-8 (or UTF-16) and upload it again`,
    );
  }
  let encoding: TextEncoding;
  if (bom === 'utf-16le' || bom === 'utf-16be') {
    encoding = bom;
    detected.encoding = options.encoding === undefined;
  } else if (options.encoding) {
    encoding = options.encoding === 'latin1' ? 'latin1' : 'utf-8';
  } else {
    encoding = sniffEncoding(head);
    detected.encoding = true;
  }
  // ASCII delimiters sit at the same places in UTF-8 and latin1, so latin1 text is enough there;
  // UTF-16 text must be decoded first (a cut-off last character does not matter for sniffing).
  const sample =
    encoding === 'utf-16le' || encoding === 'utf-16be'
      ? new TextDecoder(encoding).decode(head)
      : (encoding === 'utf-8' && bom === 'utf-8' ? head.subarray(3) : head).toString('latin1');
  let format = options.format;
  let delimiter = options.delimiter;
  if (!format) {
    const sniffed = sniffFormat(sample);
    format = sniffed.format;
    detected.format = true;
    if (!delimiter && sniffed.delimiter) {
      delimiter = sniffed.delimiter;
      detected.delimiter = format !== 'jsonl';
    }
  }
  if (format === 'tsv') delimiter ??= '\t';
  if (format === 'csv' && !delimiter) {
    delimiter = sniffDelimiter(sample, CANDIDATE_DELIMITERS);
    detected.delimiter = true;
  }
  if (format !== 'jsonl' && (delimiter === undefined || delimiter.length !== 1 || /["\r\n]/.test(delimiter))) {
    throw new CleaningError('INVALID_OPTIONS', 'delimiter must be one character other than a quote or a line break');
  }
  const outputFormat = options.outputFormat?.format ?? format;
  const outputDelimiter = options.outputFormat?.delimiter ?? (outputFormat === 'tsv' ? '\t' : outputFormat === format && format === 'csv' ? delimiter! : ',');
  if (outputFormat !== 'jsonl' && (outputDelimiter.length !== 1 || /["\r\n]/.test(outputDelimiter))) {
    throw new CleaningError('INVALID_OPTIONS', 'outputFormat.delimiter must be one character other than a quote or a line break');
  }
  // The output is UTF-8; it keeps a BOM when the input had one (UTF-16 files come from tools that want one).
  const hasBom = bom === encoding;
  return {
    settings: {
      format,
      delimiter: delimiter ?? ',',
      encoding,
      lineEnding: format === 'jsonl' ? '\n' : sniffLineEnding(sample),
      outputFormat,
      outputDelimiter,
      bom: options.outputFormat?.bom ?? (hasBom || options.encoding === 'utf-8-bom'),
    },
    detected,
  };
}

interface PassResult {
  settings: PassSettings;
  detected: CleaningReport['input']['detected'];
  bytes: number;
  rowsIn: number;
  ms: number;
  inputWaitMs: number;
}

interface PassRun {
  options: CleanStreamOptions;
  input: Readable;
  rules: CompiledRules;
  report: CleaningReport;
  limits: PassLimits;
  mode: PassMode;
  output: OutputSink;
  rejects: OutputSink;
  index: DedupeIndex | undefined;
  pass: number;
  passes: number;
  /** keep:"last": the second read takes the first read's settings instead of sniffing again. */
  settingsOf: PassResult | undefined;
}

async function runPass(run: PassRun): Promise<PassResult> {
  const { options, input, rules, report, limits, mode, index, pass, passes } = run;
  const sinks = { output: run.output, rejects: run.rejects };
  const started = performance.now();
  const { signal, onProgress, totalBytes } = options;
  const reader = new ChunkReader(input, signal);
  try {
    const head = await reader.head();
    const { settings, detected } = run.settingsOf ?? resolveSettings(options, Buffer.concat(head));
    const cleaning = new CleaningPass(settings, rules, report, limits, mode, sinks.output, sinks.rejects, index);
    const progress = () =>
      onProgress?.({
        bytesRead: reader.bytes,
        totalBytes,
        pass,
        passes,
        fraction: totalBytes ? (pass - 1 + Math.min(1, reader.bytes / Math.max(totalBytes, 1))) / passes : undefined,
        rowsIn: report.rowsIn,
      });
    const step = async (chunk: Buffer) => {
      // Work in slices whatever the caller's chunk size: what one slice produces (text, output
      // rope) dies young, so the heap (and RSS) stays small and flat.
      for (let offset = 0; offset < chunk.length; offset += SLICE_BYTES) {
        signal?.throwIfAborted();
        cleaning.feed(offset === 0 && chunk.length <= SLICE_BYTES ? chunk : chunk.subarray(offset, offset + SLICE_BYTES));
        await sinks.output.flush(signal);
        await sinks.rejects.flush(signal);
      }
      progress();
    };
    for (const chunk of head) await step(chunk);
    for (let chunk = await reader.next(); chunk; chunk = await reader.next()) await step(chunk);
    signal?.throwIfAborted();
    cleaning.end();
    await sinks.output.flush(signal);
    await sinks.rejects.flush(signal);
    progress();
    return { settings, detected, bytes: reader.bytes, rowsIn: report.rowsIn, ms: performance.now() - started, inputWaitMs: reader.waitedMs };
  } finally {
    reader.close();
  }
}

/**
 * Cleans a delimited or JSON Lines file as a stream: constant memory apart from the dedupe
 * index, output written in large chunks with backpressure. Bad rows never fail the run: they go
 * to `rejects` and the report. The promise rejects with a CleaningError for rules or options
 * that cannot work, with the signal's reason on abort, or with a stream's error.
 */
export async function cleanStream(options: CleanStreamOptions): Promise<CleaningReport> {
  try {
    return await clean(options);
  } catch (error) {
    // Whatever was interrupted (a read, a drain, a stream end), an abort surfaces as its reason.
    if (options.signal?.aborted) throw options.signal.reason;
    throw error;
  }
}

async function clean(options: CleanStreamOptions): Promise<CleaningReport> {
  const started = performance.now();
  const rules = compileRules(options.rules);
  const limits: PassLimits = {
    maxRecordChars: options.limits?.maxRecordChars ?? 1024 * 1024,
    maxProblems: options.limits?.maxProblems ?? 100,
    maxColumns: options.limits?.maxColumns ?? 10_000,
    maxWarnings: options.limits?.maxWarnings ?? 100,
  };
  const maxIndexBytes = options.limits?.maxDedupeIndexBytes ?? 2 ** 30;
  const keepLast = rules.dedupe?.keep === 'last';
  if (keepLast && typeof options.input !== 'function') {
    throw new CleaningError('INVALID_OPTIONS', 'dedupe keep:"last" reads the input twice: pass `input` as a function that opens it');
  }
  const open = () => (typeof options.input === 'function' ? options.input() : options.input);
  const index = rules.dedupe ? new DedupeIndex(keepLast, maxIndexBytes) : undefined;
  const output = new OutputSink(options.output);
  const rejects = new OutputSink(options.rejects, options.rejects !== undefined);
  options.signal?.throwIfAborted();

  const report = emptyReport();
  let indexPass: PassResult | undefined;
  let passes = 1;
  if (keepLast) {
    passes = 2;
    // The first read only builds the index; its counts are thrown away (the second read counts).
    indexPass = await runPass({
      options,
      input: open(),
      rules,
      report: emptyReport(),
      limits,
      mode: 'index',
      output: new OutputSink(undefined, false),
      rejects: new OutputSink(undefined, false),
      index,
      pass: 1,
      passes: 2,
      settingsOf: undefined,
    });
  }
  const cleanPass = await runPass({
    options,
    input: open(),
    rules,
    report,
    limits,
    mode: keepLast ? 'emit-last' : 'single',
    output,
    rejects,
    index,
    pass: passes,
    passes,
    settingsOf: indexPass,
  });
  if (indexPass && (indexPass.bytes !== cleanPass.bytes || indexPass.rowsIn !== cleanPass.rowsIn)) {
    throw new CleaningError(
      'INPUT_CHANGED',
      `the input changed between the two reads of dedupe keep:"last" (${indexPass.bytes} then ${cleanPass.bytes} bytes)`,
    );
  }
  if (options.endStreams ?? true) {
    await output.end(options.signal);
    await rejects.end(options.signal);
  } else {
    await output.flush(options.signal);
    await rejects.flush(options.signal);
  }

  const { settings, detected } = cleanPass;
  report.input = {
    ...report.input,
    format: settings.format,
    delimiter: settings.format === 'jsonl' ? undefined : settings.delimiter,
    encoding: settings.encoding,
    lineEnding: settings.lineEnding,
    detected,
  };
  report.output = {
    ...report.output,
    format: settings.outputFormat,
    delimiter: settings.outputFormat === 'jsonl' ? undefined : settings.outputDelimiter,
    bom: settings.bom && settings.outputFormat !== 'jsonl',
  };
  if (rules.dedupe && index) {
    report.dedupe = {
      keep: rules.dedupe.keep,
      columns: rules.dedupe.columns ?? report.output.columns,
      ignoreCase: rules.dedupe.ignoreCase,
      distinctKeys: index.size,
      indexBytes: index.bytes,
      passes,
    };
  }
  report.bytesIn = cleanPass.bytes;
  report.bytesOut = output.bytes;
  report.bytesRejected = rejects.bytes;
  const totalMs = performance.now() - started;
  report.timings = {
    totalMs: Math.round(totalMs),
    ...(indexPass ? { indexPassMs: Math.round(indexPass.ms) } : {}),
    cleanPassMs: Math.round(cleanPass.ms),
    inputWaitMs: Math.round(cleanPass.inputWaitMs + (indexPass?.inputWaitMs ?? 0)),
    outputWaitMs: Math.round(output.waitedMs + rejects.waitedMs),
    megabytesPerSecond: totalMs > 0 ? Math.round((cleanPass.bytes / 1e6 / (totalMs / 1000)) * 10) / 10 : 0,
  };
  return report;
}
