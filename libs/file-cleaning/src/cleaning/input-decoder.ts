import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';

export type InputEncoding = 'utf-8' | 'utf-8-bom' | 'latin1';
/** What the decoder reads: UTF-16 only when the input starts with a UTF-16 BOM. */
export type TextEncoding = 'utf-8' | 'latin1' | 'utf-16le' | 'utf-16be';

/**
 * Stands in for each invalid UTF-8 sequence in decoded text. A lone low surrogate can never
 * come out of decoding valid UTF-8, so finding it in a cell means "these bytes were invalid";
 * the engine rejects such rows and writes U+FFFD in their place.
 */
export const INVALID_UTF8_MARK = '\udfff';
export const REPLACEMENT_CHAR = '\ufffd';

const BOM = [0xef, 0xbb, 0xbf];

export function startsWithBom(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2];
}

/**
 * The encoding a byte order mark at the start names, if any. UTF-32 LE is checked before
 * UTF-16 LE, whose BOM is its prefix. As in the WHATWG decoding rules, a BOM outranks a
 * declared encoding: a file that starts with one says what it is.
 */
export function bomEncoding(bytes: Uint8Array): 'utf-8' | 'utf-16le' | 'utf-16be' | 'utf-32le' | 'utf-32be' | undefined {
  const [b0, b1, b2, b3] = bytes;
  if (b0 === 0xff && b1 === 0xfe) return bytes.length >= 4 && b2 === 0 && b3 === 0 ? 'utf-32le' : 'utf-16le';
  if (b0 === 0xfe && b1 === 0xff) return 'utf-16be';
  if (b0 === 0 && b1 === 0 && b2 === 0xfe && b3 === 0xff) return 'utf-32be';
  return startsWithBom(bytes) ? 'utf-8' : undefined;
}

/**
 * Guesses the encoding from the first bytes: a BOM means UTF-8; valid UTF-8 means UTF-8; bytes
 * ≥ 0x80 none of which form a valid UTF-8 sequence mean latin1 (really Windows-1252, see
 * InputDecoder); a mix of valid and invalid sequences means UTF-8 with damage, reported per row.
 */
export function sniffEncoding(head: Uint8Array): 'utf-8' | 'latin1' {
  if (startsWithBom(head)) return 'utf-8';
  const end = completeEnd(head, head.length);
  if (isUtf8(head.subarray(0, end))) return 'utf-8';
  let validMultibyte = 0;
  for (let i = 0; i < end;) {
    const length = sequenceLength(head, i, end);
    if (length > 1) validMultibyte++;
    i += length > 0 ? length : 1;
  }
  return validMultibyte > 0 ? 'utf-8' : 'latin1';
}

/** Index after the last complete UTF-8 sequence: a split sequence at the end waits for more bytes. */
function completeEnd(bytes: Uint8Array, length: number): number {
  for (let k = 1; k <= 3 && k <= length; k++) {
    const b = bytes[length - k];
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
    if (b < 0xc0) return length; // ASCII: nothing pending
    const needed = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return needed > k ? length - k : length;
  }
  return length;
}

/** Length of the valid UTF-8 sequence at `i`, or 0 when the bytes there are invalid. */
function sequenceLength(bytes: Uint8Array, i: number, end: number): number {
  const b0 = bytes[i];
  if (b0 < 0x80) return 1;
  let length: number;
  let min: number;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    length = 2;
    min = 0x80;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3;
    min = 0x800;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + length > end) return 0;
  let code = b0 & (0xff >> (length + 1));
  for (let k = 1; k < length; k++) {
    const b = bytes[i + k];
    if ((b & 0xc0) !== 0x80) return 0;
    code = (code << 6) | (b & 0x3f);
  }
  if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
  return length;
}

/**
 * Bytes → text for the parsers, chunk by chunk. UTF-8 keeps a split sequence for the next
 * chunk and checks each chunk with the native `isUtf8`; only a chunk that fails is decoded by
 * hand, each invalid byte becoming INVALID_UTF8_MARK. latin1 decodes as Windows-1252 (the WHATWG
 * meaning of "latin1"), so the € and curly quotes of Windows exports come out right. UTF-16
 * (chosen by its BOM) goes through the platform decoder, which drops the BOM and carries a
 * split code unit or surrogate pair to the next chunk; a lone surrogate becomes U+FFFD.
 */
export class InputDecoder {
  /** Invalid UTF-8 bytes seen so far. */
  invalidBytes = 0;
  /** A leading BOM was found (and dropped). */
  bom = false;
  private carry: Buffer | undefined;
  private first = true;
  /** The platform decoder, for every encoding but UTF-8 (which is checked byte by byte). */
  private readonly platform: TextDecoder | undefined;

  constructor(readonly encoding: TextEncoding) {
    this.platform = encoding === 'utf-8' ? undefined : new TextDecoder(encoding === 'latin1' ? 'windows-1252' : encoding);
    // UTF-16 is read only when a BOM names it, and the platform decoder drops that BOM.
    this.bom = encoding === 'utf-16le' || encoding === 'utf-16be';
  }

  decode(chunk: Buffer): string {
    let bytes = chunk;
    if (this.first) {
      this.first = false;
      if (this.encoding === 'utf-8' && startsWithBom(bytes)) {
        this.bom = true;
        bytes = bytes.subarray(3);
      }
    }
    if (this.platform) return this.platform.decode(bytes, { stream: true });
    if (this.carry) {
      bytes = Buffer.concat([this.carry, bytes]);
      this.carry = undefined;
    }
    const end = completeEnd(bytes, bytes.length);
    if (end < bytes.length) this.carry = Buffer.from(bytes.subarray(end));
    if (isUtf8(bytes.subarray(0, end))) return bytes.toString('utf8', 0, end);
    return this.decodeDamaged(bytes, end);
  }

  /** Whatever is left at the end of input: a split sequence there is invalid. */
  end(): string {
    if (this.platform) return this.platform.decode();
    if (!this.carry) return '';
    const rest = this.carry;
    this.carry = undefined;
    return this.decodeDamaged(rest, rest.length);
  }

  private decodeDamaged(bytes: Buffer, end: number): string {
    let out = '';
    let runStart = 0;
    for (let i = 0; i < end;) {
      const length = sequenceLength(bytes, i, end);
      if (length > 0) {
        i += length;
        continue;
      }
      if (i > runStart) out += bytes.toString('utf8', runStart, i);
      out += INVALID_UTF8_MARK;
      this.invalidBytes++;
      i++;
      runStart = i;
    }
    if (end > runStart) out += bytes.toString('utf8', runStart, end);
    return out;
  }
}
