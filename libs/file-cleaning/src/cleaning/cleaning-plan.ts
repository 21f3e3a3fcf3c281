import { CleaningError } from './cleaning-error';
import type { CaseStyle, CleaningRules, ColumnRule, DedupeKeep, OnInvalidAction } from './cleaning-rules.dto';
import { validateCleaningRules } from './cleaning-rules.dto';
import { createValueParser, type ValueParser } from './column-types';
import type { HeaderRules } from './header-mapping';
import { titleCase } from './text-rules';

/** A column rule made ready to run. */
export interface CompiledColumn {
  name: string;
  rule: ColumnRule;
  parser: ValueParser | undefined;
  onInvalid: OnInvalidAction;
  required: boolean;
  applyCase: ((value: string) => string) | undefined;
}

/** The rules after validation, with defaults filled in and parsers built. */
export interface CompiledRules {
  trim: boolean;
  collapse: boolean;
  emptyAsNull: boolean;
  dropEmptyRows: boolean;
  /** Lower-cased null spellings, or undefined when none. */
  nullValues: Set<string> | undefined;
  headers: HeaderRules | undefined;
  columns: CompiledColumn[];
  dedupe: { columns: string[] | undefined; keep: DedupeKeep; ignoreCase: boolean } | undefined;
}

const lower = (value: string) => value.toLowerCase();
const upper = (value: string) => value.toUpperCase();

function caseFunction(style: CaseStyle | undefined): ((value: string) => string) | undefined {
  switch (style) {
    case 'lower':
      return lower;
    case 'upper':
      return upper;
    case 'title':
      return titleCase;
    default:
      return undefined;
  }
}

/** Validates the rules (same checks as the API) and compiles them; throws INVALID_RULES. */
export function compileRules(rules: CleaningRules | undefined): CompiledRules {
  const problems = validateCleaningRules(rules);
  if (problems.length > 0) {
    throw new CleaningError(
      'INVALID_RULES',
      `invalid cleaning rules: ${problems.map((problem) => `${problem.field}: ${problem.message}`).join('; ')}`,
      problems,
    );
  }
  const entries: Array<[string, ColumnRule]> = rules?.columns instanceof Map ? [...rules.columns.entries()] : Object.entries(rules?.columns ?? {});
  return {
    trim: rules?.trimWhitespace ?? false,
    collapse: rules?.collapseWhitespace ?? false,
    emptyAsNull: rules?.emptyAsNull ?? false,
    dropEmptyRows: rules?.dropEmptyRows ?? false,
    nullValues: rules?.nullValues?.length ? new Set(rules.nullValues.map((value) => value.toLowerCase())) : undefined,
    headers: rules?.headers,
    columns: entries.map(([name, rule]) => ({
      name,
      rule,
      parser: createValueParser(rule),
      onInvalid: rule.onInvalid ?? 'reject',
      required: rule.required ?? false,
      applyCase: caseFunction(rule.case),
    })),
    dedupe: rules?.dedupe ? { columns: rules.dedupe.columns, keep: rules.dedupe.keep ?? 'first', ignoreCase: rules.dedupe.ignoreCase ?? false } : undefined,
  };
}
