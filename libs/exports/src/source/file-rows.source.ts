import type { Readable } from 'node:stream';
import { CsvParser, JsonlReader } from '@conveyor/file-cleaning';
import type { FileEntity } from '@conveyor/files';
import type { Cell, ExportColumn } from '../encoding/row-encoder';
import type { CleanedFile, CleanedValueType } from './cleaned-file';
import type { ExportRowSource } from './export-source';

/** Longest row read back, in characters: a cleaned row may outgrow its input (JSON escaping), so well above the cleaning's own limit. */
const MAX_ROW_CHARS = 16 * 1024 * 1024;
/** A JSON number literal: what a typed cleaned column holds when its value is valid. */
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const DIGITS = /^-?\d+$/;

/**
 * A CSV cell as a JSON value: empty is null (CSV writes null and "" alike), a valid number or
 * boolean of a typed column is that literal, anything else (a value `onInvalid: "keep"` left as
 * written, an integer past 2^53 that a JS number would round) stays text.
 */
function typedCell(text: string, type: CleanedValueType): Cell {
  if (text === '') return null;
  if (type === 'number' && JSON_NUMBER.test(text)) {
    const value = Number(text);
    if (Number.isFinite(value) && (!DIGITS.test(text) || Number.isSafeInteger(value))) return value;
  } else if (type === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
  return text;
}

/** The tail of a row error's message: where in the file. */
const at = (file: FileEntity, line: number) => `${file.name} (${file.id}), line ${line}`;

/**
 * Reads a cleaning output back as rows, chunk by chunk as storage streams it: one chunk's rows
 * are one page, and the next chunk is read only when the export asks for the next page, so a
 * slow store or consumer holds the read and memory stays at a chunk whatever the file's size.
 * CSV and TSV go through the cleaning's own RFC 4180 parser with the delimiter the cleaning
 * wrote; JSON Lines through its line reader and JSON.parse. Cells are JSON values (kind
 * `value`): the encoders write them as text, literals or JSON text as the format wants.
 */
export class FileRowsSource implements ExportRowSource {
  readonly name: string;

  /**
   * @param typed CSV cells of typed columns become numbers and booleans (for JSON output);
   *   otherwise every CSV cell stays the text it is, so CSV to CSV changes no value.
   */
  constructor(
    private readonly open: (file: FileEntity) => Promise<Readable>,
    private readonly cleaned: CleanedFile,
    private readonly typed: boolean,
  ) {
    this.name = cleaned.file.name.replace(/\.(csv|tsv|jsonl)$/i, '') || 'file';
  }

  columns(): ExportColumn[] {
    return this.cleaned.columns.map((name) => ({ name, kind: 'value' }));
  }

  count(): Promise<number> {
    return Promise.resolve(this.cleaned.rows);
  }

  async *pages(signal?: AbortSignal): AsyncGenerator<Cell[][]> {
    let page: Cell[][] = [];
    const reader = this.cleaned.format === 'jsonl' ? this.jsonReader(page) : this.csvReader(page);
    // A fresh page after each yield: the reader's sink pushes into the current one.
    const take = () => {
      const full = page;
      page = [];
      reader.page = page;
      return full;
    };
    const content = await this.open(this.cleaned.file);
    // The cleaning writes UTF-8, with a BOM when its input had one; the decoder drops it.
    const decoder = new TextDecoder('utf-8', { fatal: true });
    try {
      for await (const chunk of content as AsyncIterable<Buffer>) {
        signal?.throwIfAborted();
        reader.push(decoder.decode(chunk, { stream: true }));
        if (page.length > 0) yield take();
      }
      reader.push(decoder.decode());
      reader.end();
      if (page.length > 0) yield take();
    } finally {
      content.destroy();
    }
  }

  private csvReader(first: Cell[][]): RowReader {
    const { columns, types, delimiter, file } = this.cleaned;
    const width = columns.length;
    const typed = this.typed;
    let header = true;
    const reader: RowReader = {
      page: first,
      push: (text) => parser.push(text),
      end: () => parser.end(),
    };
    const parser = new CsvParser({ delimiter, maxRecordChars: MAX_ROW_CHARS }, (fields, count, line) => {
      if (header) {
        header = false;
        return;
      }
      // A blank line: no row of a file with several columns (one column: a row whose cell is empty).
      if (count <= 1 && width > 1 && (count === 0 || fields[0] === '')) return;
      if (count > width) throw new Error(`the cleaned file has ${count} fields where its header has ${width}: ${at(file, line)}`);
      const row = new Array<Cell>(width);
      for (let c = 0; c < width; c += 1) {
        const text = c < count ? fields[c] : '';
        row[c] = typed ? typedCell(text, types[c]) : text === '' ? null : text;
      }
      reader.page.push(row);
    });
    return reader;
  }

  private jsonReader(first: Cell[][]): RowReader {
    const { columns, file } = this.cleaned;
    const width = columns.length;
    const reader: RowReader = {
      page: first,
      push: (text) => lines.push(text),
      end: () => lines.end(),
    };
    const lines = new JsonlReader((text, line, tooLong) => {
      if (tooLong) throw new Error(`a line of the cleaned file is longer than ${MAX_ROW_CHARS} characters: ${at(file, line)}`);
      if (text.trim() === '') return;
      const object = JSON.parse(text) as Record<string, Cell | undefined> | null;
      if (object === null || typeof object !== 'object' || Array.isArray(object))
        throw new Error(`a line of the cleaned file is not a JSON object: ${at(file, line)}`);
      const row = new Array<Cell>(width);
      // Own keys only: a column named like an Object.prototype member must not read the prototype's.
      for (let c = 0; c < width; c += 1) row[c] = Object.hasOwn(object, columns[c]) ? (object[columns[c]] ?? null) : null;
      reader.page.push(row);
    }, MAX_ROW_CHARS);
    return reader;
  }
}

/** A parser fed text, filling `page` with rows. */
interface RowReader {
  page: Cell[][];
  push(text: string): void;
  end(): void;
}
