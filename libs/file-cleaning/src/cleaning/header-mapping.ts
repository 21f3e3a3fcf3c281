import type { HeaderStyle } from './cleaning-rules.dto';

/**
 * Header mapping: normalise → rename → drop, then make names unique. `rename` and `drop` may
 * name a column as written in the file (exactly or trimmed) or as normalised; `drop` also
 * accepts the renamed name. Column rules and dedupe refer to the final names.
 */

const COMBINING_MARKS = /[\u0300-\u036f]/g;
const LOWER_THEN_UPPER = /([\p{Ll}\p{N}])(\p{Lu})/gu;
const ACRONYM_THEN_WORD = /(\p{Lu})(\p{Lu}\p{Ll})/gu;
const NON_WORD = /[^\p{L}\p{N}]+/u;
const WHITESPACE_RUN = /\s+/g;

/** Words of a header name: accents folded, split at camelCase humps and non-alphanumerics. */
function words(name: string): string[] {
  const folded = name.normalize('NFKD').replace(COMBINING_MARKS, '');
  const spaced = folded.replace(LOWER_THEN_UPPER, '$1 $2').replace(ACRONYM_THEN_WORD, '$1 $2');
  return spaced.split(NON_WORD).filter((word) => word.length > 0);
}

export function normalizeHeaderName(name: string, style: HeaderStyle): string {
  switch (style) {
    case 'none':
      return name;
    case 'lower':
      return name.trim().replace(WHITESPACE_RUN, ' ').toLowerCase();
    case 'snake_case':
      return words(name)
        .map((word) => word.toLowerCase())
        .join('_');
    case 'camelCase':
      return words(name)
        .map((word, i) => (i === 0 ? word.toLowerCase() : word[0].toUpperCase() + word.slice(1).toLowerCase()))
        .join('');
  }
}

export interface HeaderRules {
  normalize?: HeaderStyle;
  rename?: Record<string, string>;
  drop?: string[];
}

export interface MappedColumn {
  /** Final name, or undefined when the column is dropped. */
  name: string | undefined;
}

/**
 * Maps source column names one at a time (CSV: the header row in order; JSONL: each key the
 * first time it appears), so both formats share the rules and the uniqueness bookkeeping.
 */
export class HeaderMapper {
  private readonly style: HeaderStyle;
  private readonly rename: Map<string, string>;
  private readonly drop: Set<string>;
  private readonly usedRenames = new Set<string>();
  private readonly usedDrops = new Set<string>();
  private readonly taken = new Set<string>();
  readonly warnings: string[] = [];

  constructor(rules: HeaderRules | undefined) {
    this.style = rules?.normalize ?? 'none';
    this.rename = new Map(Object.entries(rules?.rename ?? {}));
    this.drop = new Set(rules?.drop ?? []);
  }

  /** `cleaned` is the raw name after the whitespace rules; `position` is 0-based, for fallbacks. */
  map(raw: string, cleaned: string, position: number): string | undefined {
    const normalized = normalizeHeaderName(cleaned, this.style);
    const candidates = [raw, raw.trim(), cleaned, normalized];
    let renamed: string | undefined;
    for (const candidate of candidates) {
      const target = this.rename.get(candidate);
      if (target !== undefined) {
        this.usedRenames.add(candidate);
        renamed = target;
        break;
      }
    }
    const final = renamed ?? normalized;
    for (const candidate of [...candidates, final]) {
      if (this.drop.has(candidate)) {
        this.usedDrops.add(candidate);
        return undefined;
      }
    }
    let name = final.length > 0 ? final : `column_${position + 1}`;
    if (this.taken.has(name)) {
      let n = 2;
      while (this.taken.has(`${name}_${n}`)) n++;
      this.warnings.push(`duplicate column name "${name}" (column ${position + 1}) renamed to "${name}_${n}"`);
      name = `${name}_${n}`;
    }
    this.taken.add(name);
    return name;
  }

  /** Rename and drop entries that matched no column: likely typos, reported as warnings. */
  unusedEntries(): string[] {
    const notes: string[] = [];
    for (const key of this.rename.keys()) if (!this.usedRenames.has(key)) notes.push(`headers.rename: no column "${key}"`);
    for (const key of this.drop) if (!this.usedDrops.has(key)) notes.push(`headers.drop: no column "${key}"`);
    return notes;
  }
}
