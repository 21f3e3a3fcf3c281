import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  MinLength,
  registerDecorator,
  validateSync,
  ValidateNested,
  type ValidationArguments,
  type ValidationError,
} from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import { getCountries, isSupportedCountry } from 'libphonenumber-js/min';
import { dateFormatSchema } from './date-format.schema';
import { compileDateFormat } from './date-formats';

/**
 * The cleaning rules of a `file.clean` task, as class-validator classes so the API validates a
 * payload with the same rules the engine runs and publishes them as JSON Schema. Every rule is
 * optional; `cleanStream` validates again, so a hand-built rules object gets the same messages.
 */

export const COLUMN_TYPES = ['string', 'integer', 'number', 'boolean', 'date', 'datetime', 'email', 'url', 'phone'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

export const ON_INVALID_ACTIONS = ['reject', 'null', 'keep'] as const;
export type OnInvalidAction = (typeof ON_INVALID_ACTIONS)[number];

export const CASE_STYLES = ['lower', 'upper', 'title'] as const;
export type CaseStyle = (typeof CASE_STYLES)[number];

export const HEADER_STYLES = ['snake_case', 'camelCase', 'lower', 'none'] as const;
export type HeaderStyle = (typeof HEADER_STYLES)[number];

export const DEDUPE_KEEP = ['first', 'last'] as const;
export type DedupeKeep = (typeof DEDUPE_KEEP)[number];

/** Column types whose values are text, so a `case` rule makes sense on them. */
const CASED_TYPES: readonly ColumnType[] = ['string', 'email'];
const DATE_TYPES: readonly ColumnType[] = ['date', 'datetime'];

const MAX_COLUMN_NAME = 256;
const MAX_LIST = 1000;

/**
 * Rule complexity limits: every cell is checked against its column's rules, so the work per
 * cell must stay small and bounded whatever a client sends. A date format is matched in time
 * linear in its length (date-formats.ts), and these bound the rest: how many formats a cell
 * may be tried against, and how much there is to compile.
 */
export const RULE_LIMITS = {
  /** `[...]` groups in one date format, nested ones included (the defaults use at most 3). */
  optionalGroupsPerFormat: 6,
  /** Date formats of one column (the datetime defaults are 20). */
  formatsPerColumn: 20,
  /** Date formats of all columns together. */
  formatsTotal: 200,
  /** Entries of `columns`, and of `headers.rename`. */
  columnRules: MAX_LIST,
} as const;

/**
 * Two rules of the payload schema have no JSON Schema keyword; they are published as extension
 * keywords that a validator can register (the API checks both):
 * - `x-distinctValues: true` on an object: no two of its values are equal (`headers.rename`);
 * - `x-maxDateFormats: n` on `columns`: its column rules list at most n `formats` in all.
 * `jsonSchema` adds schema the decorator's OpenAPI 3.0 typing does not know (those keywords,
 * `propertyNames`, `not`) to what class-validator-jsonschema derives.
 */
const jsonSchema = (schema: Record<string, unknown>) => JSONSchema(schema);

/** Constraint names of the limits above: a problem from one of them is RULES_TOO_COMPLEX. */
const LIMIT_CONSTRAINTS = new Set(['arrayMaxSize', 'optionalGroupLimit', 'columnRuleLimit', 'renameLimit']);

function entryValues(value: unknown): unknown[] {
  if (value instanceof Map) return [...value.values()];
  return value && typeof value === 'object' ? Object.values(value) : [];
}

function oneOf(values: readonly string[]): string {
  return values.map((value) => `"${value}"`).join(', ');
}

/** A `{string: non-empty string}` object with distinct values (rename targets). */
function IsRenameMap(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isRenameMap',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate(value: unknown) {
          if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
          const targets = Object.values(value as Record<string, unknown>);
          return (
            targets.every((name) => typeof name === 'string' && name.length > 0 && name.length <= MAX_COLUMN_NAME) && new Set(targets).size === targets.length
          );
        },
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property} must map each old column name to a distinct, non-empty new name (at most ${MAX_COLUMN_NAME} characters)`,
      },
    });
}

/**
 * Keys of a Map or plain object are non-empty column names and each value is an object: an
 * array would slip through ValidateNested (it validates the items, of which [] has none).
 */
function IsColumnRuleMap(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isColumnRuleMap',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate(value: unknown) {
          const keys = value instanceof Map ? [...value.keys()] : value && typeof value === 'object' ? Object.keys(value) : [];
          const rules = entryValues(value);
          return (
            keys.every((key) => typeof key === 'string' && key.length > 0 && key.length <= MAX_COLUMN_NAME) &&
            rules.every((rule) => rule !== null && typeof rule === 'object' && !Array.isArray(rule))
          );
        },
        defaultMessage: (args?: ValidationArguments) => `${args?.property} must map non-empty column names to rule objects`,
      },
    });
}

/** The property is only meaningful for some column types. */
function OnlyForTypes(types: readonly ColumnType[]): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'onlyForTypes',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate(value: unknown, args: ValidationArguments) {
          if (value === undefined || value === null) return true;
          return types.includes((args.object as ColumnRuleDto).type);
        },
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property} applies only to columns of type ${oneOf(types)}, not "${(args?.object as ColumnRuleDto)?.type}"`,
      },
    });
}

/** Each entry compiles as a date format (see date-formats.ts for the tokens). */
function AreDateFormats(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'areDateFormats',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate(value: unknown) {
          if (!Array.isArray(value)) return true; // IsArray reports it
          return value.every((format) => typeof format === 'string' && formatProblem(format) === undefined);
        },
        defaultMessage: (args?: ValidationArguments) => {
          const list = Array.isArray(args?.value) ? (args.value as unknown[]) : [];
          const index = list.findIndex((format) => typeof format !== 'string' || formatProblem(format) !== undefined);
          const problem = typeof list[index] === 'string' ? formatProblem(list[index]) : 'must be a string';
          return `${args?.property}[${index}] ${problem}`;
        },
      },
    });
}

function formatProblem(format: string): string | undefined {
  try {
    compileDateFormat(format);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Each format that compiles has at most RULE_LIMITS.optionalGroupsPerFormat `[...]` groups. */
function WithinOptionalGroupLimit(): PropertyDecorator {
  const tooMany = (format: unknown) => {
    if (typeof format !== 'string') return false;
    try {
      return compileDateFormat(format).optionalGroups > RULE_LIMITS.optionalGroupsPerFormat;
    } catch {
      return false; // AreDateFormats reports it
    }
  };
  return (target, propertyName) =>
    registerDecorator({
      name: 'optionalGroupLimit',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value: unknown) => !Array.isArray(value) || !value.some(tooMany),
        defaultMessage: (args?: ValidationArguments) => {
          const index = Array.isArray(args?.value) ? (args.value as unknown[]).findIndex(tooMany) : -1;
          return `${args?.property}[${index}] has more than ${RULE_LIMITS.optionalGroupsPerFormat} optional "[...]" groups`;
        },
      },
    });
}

/** At most RULE_LIMITS.columnRules column rules, with at most RULE_LIMITS.formatsTotal date formats in all. */
function WithinColumnRuleLimits(): PropertyDecorator {
  const formats = (value: unknown) =>
    entryValues(value).reduce<number>((sum, rule) => {
      const list = rule && typeof rule === 'object' ? (rule as { formats?: unknown }).formats : undefined;
      return sum + (Array.isArray(list) ? list.length : 0);
    }, 0);
  return (target, propertyName) =>
    registerDecorator({
      name: 'columnRuleLimit',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value: unknown) => entryValues(value).length <= RULE_LIMITS.columnRules && formats(value) <= RULE_LIMITS.formatsTotal,
        defaultMessage: (args?: ValidationArguments) =>
          entryValues(args?.value).length > RULE_LIMITS.columnRules
            ? `${args?.property} may hold at most ${RULE_LIMITS.columnRules} column rules`
            : `${args?.property} may list at most ${RULE_LIMITS.formatsTotal} date formats in all (${formats(args?.value)} given)`,
      },
    });
}

/** `headers.rename` has at most RULE_LIMITS.columnRules entries. */
function WithinRenameLimit(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'renameLimit',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value: unknown) => entryValues(value).length <= RULE_LIMITS.columnRules,
        defaultMessage: (args?: ValidationArguments) => `${args?.property} may hold at most ${RULE_LIMITS.columnRules} entries`,
      },
    });
}

function IsPhoneCountry(): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name: 'isPhoneCountry',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value: unknown) => typeof value === 'string' && /^[A-Z]{2}$/.test(value) && isSupportedCountry(value),
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property} must be an upper-case ISO 3166-1 alpha-2 country code with a known calling code, e.g. "DE" or "US"`,
      },
    });
}

export class HeaderRulesDto {
  /** How header names are rewritten before `rename` and `drop` apply. Default "none". */
  @IsOptional()
  @IsIn(HEADER_STYLES, { message: `normalize must be one of ${oneOf(HEADER_STYLES)}` })
  normalize?: HeaderStyle;

  /** `{ "old name": "new name" }`; an old name may be the header as written or as normalised. */
  @IsOptional()
  @IsObject()
  @IsRenameMap()
  @WithinRenameLimit()
  @jsonSchema({
    type: 'object',
    additionalProperties: { type: 'string', minLength: 1, maxLength: MAX_COLUMN_NAME },
    maxProperties: RULE_LIMITS.columnRules,
    // No standard keyword compares an object's values with each other (see the extension keywords above).
    'x-distinctValues': true,
  })
  rename?: Record<string, string>;

  /** Columns left out of the cleaned file (by original, normalised or renamed name). */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_LIST)
  @IsString({ each: true })
  @MinLength(1, { each: true })
  drop?: string[];
}

/** A property set (not null) only with one of `types` in `type`, as OnlyForTypes checks it. */
function onlyForTypesSchema(property: string, types: readonly ColumnType[]) {
  return { anyOf: [{ not: { required: [property] } }, { properties: { [property]: { type: 'null' } } }, { properties: { type: { enum: [...types] } } }] };
}

@jsonSchema({ allOf: [onlyForTypesSchema('case', CASED_TYPES), onlyForTypesSchema('formats', DATE_TYPES), onlyForTypesSchema('defaultCountry', ['phone'])] })
export class ColumnRuleDto {
  @IsIn(COLUMN_TYPES, { message: `type must be one of ${oneOf(COLUMN_TYPES)}` })
  type: ColumnType;

  /** Rows whose value is missing (or would be nulled as invalid) are rejected. */
  @IsOptional()
  @IsBoolean()
  required?: boolean;

  /** What an invalid value does: reject the row (default), become empty, or stay as written. */
  @IsOptional()
  @IsIn(ON_INVALID_ACTIONS, { message: `onInvalid must be one of ${oneOf(ON_INVALID_ACTIONS)}` })
  onInvalid?: OnInvalidAction;

  /** Letter case applied after validation; string and email columns only. */
  @IsOptional()
  @IsIn(CASE_STYLES, { message: `case must be one of ${oneOf(CASE_STYLES)}` })
  @OnlyForTypes(CASED_TYPES)
  case?: CaseStyle;

  /**
   * Accepted input formats, tried in order (date and datetime only). Tokens: YYYY YY MMMM MMM MM
   * M DD D HH H hh h mm ss SSS A Z, `[...]` marks an optional part; other characters are literal.
   */
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(RULE_LIMITS.formatsPerColumn)
  @IsString({ each: true })
  @AreDateFormats()
  @WithinOptionalGroupLimit()
  @OnlyForTypes(DATE_TYPES)
  @JSONSchema({ items: dateFormatSchema(RULE_LIMITS.optionalGroupsPerFormat) })
  formats?: string[];

  /** Country assumed for phone numbers without a `+country` prefix (ISO 3166-1 alpha-2). */
  @IsOptional()
  @IsString()
  @IsPhoneCountry()
  @OnlyForTypes(['phone'])
  @JSONSchema({ enum: getCountries() })
  defaultCountry?: string;
}

export class DedupeRulesDto {
  /** Columns (final names) forming the duplicate key; all output columns when absent. */
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_LIST)
  @ArrayUnique()
  @IsString({ each: true })
  @MinLength(1, { each: true })
  columns?: string[];

  /** Which row of a duplicate group survives. "last" reads the input twice. Default "first". */
  @IsOptional()
  @IsIn(DEDUPE_KEEP, { message: `keep must be one of ${oneOf(DEDUPE_KEEP)}` })
  keep?: DedupeKeep;

  /** Compare keys case-insensitively (after all other normalisation). Default false. */
  @IsOptional()
  @IsBoolean()
  ignoreCase?: boolean;
}

export class CleaningRulesDto {
  /** Remove leading and trailing whitespace (incl. tabs and non-breaking spaces) from every cell. */
  @IsOptional()
  @IsBoolean()
  trimWhitespace?: boolean;

  /** Replace every run of whitespace inside a cell (incl. line breaks) with one space. */
  @IsOptional()
  @IsBoolean()
  collapseWhitespace?: boolean;

  /** Empty cells become null (JSON null; an empty field in CSV). */
  @IsOptional()
  @IsBoolean()
  emptyAsNull?: boolean;

  /** Cells equal to one of these (case-insensitive, after whitespace rules) count as empty, e.g. "N/A". */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  nullValues?: string[];

  /** Drop rows whose cells are all empty after the whitespace and empty-cell rules. */
  @IsOptional()
  @IsBoolean()
  dropEmptyRows?: boolean;

  // IsObject: a nested array would pass ValidateNested (it validates the items, of which [] has none).
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => HeaderRulesDto)
  headers?: HeaderRulesDto;

  /** Per-column rules, keyed by the column's final name (after header mapping). */
  @IsOptional()
  @IsObject()
  @IsColumnRuleMap()
  @WithinColumnRuleLimits()
  @ValidateNested({ each: true })
  @Type(() => ColumnRuleDto)
  @jsonSchema({
    propertyNames: { minLength: 1, maxLength: MAX_COLUMN_NAME },
    maxProperties: RULE_LIMITS.columnRules,
    // A sum over the entries, which no standard keyword states (see the extension keywords above).
    'x-maxDateFormats': RULE_LIMITS.formatsTotal,
  })
  columns?: Map<string, ColumnRuleDto>;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => DedupeRulesDto)
  dedupe?: DedupeRulesDto;
}

/** The plain-object shape of the rules, as they arrive in a JSON payload. */
export interface CleaningRules {
  trimWhitespace?: boolean;
  collapseWhitespace?: boolean;
  emptyAsNull?: boolean;
  nullValues?: string[];
  dropEmptyRows?: boolean;
  headers?: { normalize?: HeaderStyle; rename?: Record<string, string>; drop?: string[] };
  columns?: Record<string, ColumnRule> | Map<string, ColumnRule>;
  dedupe?: { columns?: string[]; keep?: DedupeKeep; ignoreCase?: boolean };
}

export interface ColumnRule {
  type: ColumnType;
  required?: boolean;
  onInvalid?: OnInvalidAction;
  case?: CaseStyle;
  formats?: string[];
  defaultCountry?: string;
}

export interface RuleProblem {
  /** Dotted path below the rules object, e.g. `columns.email.type`. */
  field: string;
  message: string;
  /** Set when the rules are well-formed but exceed a RULE_LIMITS bound. */
  code?: 'RULES_TOO_COMPLEX';
}

function flatten(errors: ValidationError[], parent: string, into: RuleProblem[]): RuleProblem[] {
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    for (const [constraint, message] of Object.entries(error.constraints ?? {})) {
      into.push(LIMIT_CONSTRAINTS.has(constraint) ? { field, message, code: 'RULES_TOO_COMPLEX' } : { field, message });
    }
    if (error.children?.length) flatten(error.children, field, into);
  }
  return into;
}

/**
 * Validates plain rules with the options the API uses for payloads (unknown fields refused).
 * Returns the problems, each with its path; an empty list means the rules are valid.
 */
export function validateCleaningRules(rules: unknown): RuleProblem[] {
  if (rules === undefined || rules === null) return [];
  if (typeof rules !== 'object' || Array.isArray(rules)) return [{ field: 'rules', message: 'rules must be an object' }];
  const instance = rules instanceof CleaningRulesDto ? rules : plainToInstance(CleaningRulesDto, rules);
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false });
  return flatten(errors, '', []);
}
