/**
 * Splits JSON Lines text into lines (LF or CRLF), chunk by chunk. A line longer than
 * `maxLineChars` is reported once with `tooLong` (its first KiB kept) and skipped to its end.
 */
export type JsonlLineSink = (text: string, line: number, tooLong: boolean) => void;

const KEEP = 1024;

export class JsonlReader {
  private pending = '';
  private line = 1;
  private skipping = false;

  constructor(
    private readonly sink: JsonlLineSink,
    private readonly maxLineChars = 1024 * 1024,
  ) {}

  push(text: string): void {
    const s = this.pending.length > 0 ? this.pending + text : text;
    let start = 0;
    for (let nl = s.indexOf('\n'); nl !== -1; nl = s.indexOf('\n', start)) {
      if (this.skipping) {
        this.skipping = false;
      } else {
        const end = nl > start && s.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        if (end - start > this.maxLineChars) this.sink(s.slice(start, start + KEEP), this.line, true);
        else this.sink(s.slice(start, end), this.line, false);
      }
      this.line++;
      start = nl + 1;
    }
    if (this.skipping) {
      this.pending = '';
    } else if (s.length - start > this.maxLineChars) {
      this.sink(s.slice(start, start + KEEP), this.line, true);
      this.skipping = true;
      this.pending = '';
    } else {
      this.pending = start === 0 ? s : s.slice(start);
    }
  }

  end(): void {
    if (!this.skipping && this.pending.length > 0) {
      const s = this.pending;
      this.sink(s.charCodeAt(s.length - 1) === 13 ? s.slice(0, -1) : s, this.line, false);
    }
    this.pending = '';
  }
}
