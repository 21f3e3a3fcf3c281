export type FileFormat = 'csv' | 'tsv' | 'jsonl';

/** Delimiters considered when none is given, in tie-break order. */
export const CANDIDATE_DELIMITERS = [',', '\t', ';', '|'] as const;

const SAMPLE_LINES = 20;

/** Splits the first lines of `text` (quote-aware) and counts each candidate per line. */
function countPerLine(text: string): number[][] {
  const rows: number[][] = [];
  let counts = CANDIDATE_DELIMITERS.map(() => 0);
  let inQuotes = false;
  let lineHasContent = false;
  for (let i = 0; i < text.length && rows.length < SAMPLE_LINES; i++) {
    const ch = text[i];
    if (ch === '"') {
      inQuotes = !inQuotes;
      lineHasContent = true;
    } else if (!inQuotes && (ch === '\n' || ch === '\r')) {
      if (lineHasContent) rows.push(counts);
      counts = CANDIDATE_DELIMITERS.map(() => 0);
      lineHasContent = false;
    } else {
      lineHasContent = true;
      if (!inQuotes) {
        const k = CANDIDATE_DELIMITERS.indexOf(ch as (typeof CANDIDATE_DELIMITERS)[number]);
        if (k >= 0) counts[k]++;
      }
    }
  }
  if (lineHasContent && rows.length < SAMPLE_LINES) rows.push(counts);
  return rows;
}

/**
 * Picks the delimiter from a sample: prefer a candidate that occurs the same non-zero number of
 * times on every sampled line (the last line may be cut off, so it is left out when there are
 * several), the most frequent first; else the most frequent on the header line; else ",".
 */
export function sniffDelimiter(sample: string, candidates: readonly string[] = CANDIDATE_DELIMITERS): string {
  const all = countPerLine(sample);
  const rows = all.length > 2 ? all.slice(0, -1) : all;
  if (rows.length === 0) return ',';
  let best = -1;
  for (let k = 0; k < CANDIDATE_DELIMITERS.length; k++) {
    if (!candidates.includes(CANDIDATE_DELIMITERS[k])) continue;
    const first = rows[0][k];
    if (first > 0 && rows.every((row) => row[k] === first) && (best < 0 || first > rows[0][best])) best = k;
  }
  if (best < 0) {
    for (let k = 0; k < CANDIDATE_DELIMITERS.length; k++) {
      if (!candidates.includes(CANDIDATE_DELIMITERS[k])) continue;
      if (rows[0][k] > 0 && (best < 0 || rows[0][k] > rows[0][best])) best = k;
    }
  }
  return best < 0 ? ',' : CANDIDATE_DELIMITERS[best];
}

/** JSON Lines when the first non-blank character opens an object; otherwise delimited text. */
export function sniffFormat(sample: string): { format: FileFormat; delimiter?: string } {
  const first = sample.search(/\S/);
  if (first >= 0 && sample[first] === '{') return { format: 'jsonl' };
  const delimiter = sniffDelimiter(sample);
  return delimiter === '\t' ? { format: 'tsv', delimiter } : { format: 'csv', delimiter };
}

/** The line ending of the first line: output files use the same. */
export function sniffLineEnding(sample: string): '\n' | '\r\n' {
  const nl = sample.indexOf('\n');
  return nl > 0 && sample[nl - 1] === '\r' ? '\r\n' : '\n';
}
