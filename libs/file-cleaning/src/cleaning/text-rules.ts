/**
 * Cell-level text rules: whitespace and letter case. Char loops decide whether a cell needs
 * work at all, so clean cells (the common case) cost a scan and no allocation.
 */

/** The characters JavaScript's `trim()` and `\s` treat as whitespace. */
export function isWhitespace(code: number): boolean {
  if (code <= 32) return code === 32 || (code >= 9 && code <= 13);
  if (code < 0xa0) return false;
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

/**
 * Whitespace other than single spaces: tabs, line breaks, NBSP and friends, or two spaces in a
 * row. A regex test is used on purpose: it runs as native code and measured faster per cell
 * than a JS char loop.
 */
const NEEDS_COLLAPSE = /[\t\n\v\f\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]| {2}/;

/** True when the cell has a whitespace run other than single spaces (tab, newline, double space…). */
export function needsCollapse(value: string): boolean {
  return NEEDS_COLLAPSE.test(value);
}

const WHITESPACE_RUN = /\s+/g;

/** Replaces every whitespace run with one space. Call only after `needsCollapse` said yes. */
export function collapseWhitespace(value: string): string {
  return value.replace(WHITESPACE_RUN, ' ');
}

/** True when trimming would change the value. */
export function needsTrim(value: string): boolean {
  return value.length > 0 && (isWhitespace(value.charCodeAt(0)) || isWhitespace(value.charCodeAt(value.length - 1)));
}

function isWordBreak(code: number): boolean {
  // whitespace - / ( . "
  return isWhitespace(code) || code === 45 || code === 47 || code === 40 || code === 46 || code === 34;
}

/**
 * Title case: the first letter of each word upper, the rest lower. Words break at whitespace,
 * `-`, `/`, `(`, `.` and `"`; after an apostrophe only when a single letter precedes it, so
 * "o'neil" → "O'Neil" but "don't" → "Don't".
 */
export function titleCase(value: string): string {
  const lowered = value.toLowerCase();
  let out = '';
  let copied = 0;
  let wordStart = true;
  let wordLength = 0;
  for (let i = 0; i < lowered.length; i++) {
    const code = lowered.charCodeAt(i);
    if (wordStart) {
      if (code >= 97 && code <= 122) {
        out += lowered.slice(copied, i) + String.fromCharCode(code - 32);
        copied = i + 1;
        wordStart = false;
        wordLength = 1;
        continue;
      }
      if (code > 127) {
        const ch = lowered[i];
        const up = ch.toUpperCase();
        if (up !== ch) {
          out += lowered.slice(copied, i) + up;
          copied = i + 1;
          wordStart = false;
          wordLength = 1;
          continue;
        }
      }
      if (code >= 48 && code <= 57) {
        wordStart = false;
        wordLength = 1;
        continue;
      }
    }
    if (isWordBreak(code)) {
      wordStart = true;
      wordLength = 0;
    } else if ((code === 39 || code === 0x2019) && wordLength === 1) {
      wordStart = true;
      wordLength = 0;
    } else if (!wordStart) {
      wordLength++;
    }
  }
  return copied === 0 ? lowered : out + lowered.slice(copied);
}
