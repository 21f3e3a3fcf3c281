import { getMetadataStorage } from 'class-validator';
import { isOpaqueJson, nestedDtoOf } from './opaque-json';

type Check = (value: unknown) => boolean;
type ValidationMetadata = ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>[number];

// class-transformer keeps its metadata (@Transform, @Expose, @Exclude, @Type) in an internal module that ships no typings.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { defaultMetadataStorage: transformerMetadata } = require('class-transformer/cjs/storage') as {
  defaultMetadataStorage: {
    findTransformMetadatas(target: Function, property: string, transformationType: number): unknown[];
    findExposeMetadata(target: Function, property: string): unknown;
    findExcludeMetadata(target: Function, property: string): unknown;
    findTypeMetadata(target: Function, property: string): unknown;
    getExposedMetadatas(target: Function): unknown[];
    getExcludedMetadatas(target: Function): unknown[];
  };
};
/** class-transformer's TransformationType.PLAIN_TO_CLASS. */
const PLAIN_TO_CLASS = 0;

/** A DTO property as the fast check sees it. */
interface PropertyShape {
  optional: boolean;
  /** null: a rule only class-validator can judge (a custom rule, a transformed value), so a value there goes to it. */
  check: Check | null;
  /** Objects and arrays stay as parsed (@OpaqueJson); others would be copied by class-transformer. */
  opaque: boolean;
  /** A nested DTO (@NestedDto): an object of that class, or an array of them. */
  nested?: () => Function;
}

interface Shape {
  properties: Map<string, PropertyShape>;
  /** Whether the class has any validation rule (without one, class-validator refuses it as an unknown value). */
  hasRules: boolean;
}

const num = (value: unknown): value is number => typeof value === 'number';
const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype;

/**
 * Built-in class-validator rules, each at most as lenient as class-validator itself: a value
 * they accept, class-validator accepts too (a length is compared in UTF-16 units, which never
 * undercounts validator.js's characters). Anything else is left to class-validator.
 */
const RULES: Record<string, (constraints: unknown[]) => Check | null> = {
  isString: () => (value) => typeof value === 'string',
  isInt: () => (value) => num(value) && Number.isInteger(value),
  isBoolean: () => (value) => typeof value === 'boolean',
  min: ([bound]) => (num(bound) ? (value) => num(value) && value >= bound : null),
  max: ([bound]) => (num(bound) ? (value) => num(value) && value <= bound : null),
  maxLength: ([bound]) => (num(bound) ? (value) => typeof value === 'string' && value.length <= bound : null),
  isObject: () => (value) => value !== null && typeof value === 'object' && !Array.isArray(value),
  isArray: () => (value) => Array.isArray(value),
  arrayMaxSize: ([bound]) => (num(bound) ? (value) => Array.isArray(value) && value.length <= bound : null),
  arrayMinSize: ([bound]) => (num(bound) ? (value) => Array.isArray(value) && value.length >= bound : null),
  isIn: ([allowed]) => (Array.isArray(allowed) ? (value) => allowed.some((item) => item === value) : null),
  // A stateful (global or sticky) expression, or one given as a string, is left to class-validator.
  matches: ([pattern, modifiers]) =>
    pattern instanceof RegExp && modifiers === undefined && !pattern.global && !pattern.sticky
      ? (value) => typeof value === 'string' && pattern.test(value)
      : null,
};

function ruleOf(metadata: ValidationMetadata): Check | null {
  if (metadata.type !== 'customValidation' || (metadata.groups?.length ?? 0) > 0 || !metadata.name) return null;
  const rule = RULES[metadata.name]?.(metadata.constraints ?? []);
  if (!rule) return null;
  // `each`: every item of an array; a value that is not an array is class-validator's to judge.
  return metadata.each ? (value) => Array.isArray(value) && value.every(rule) : rule;
}

const isOptionalRule = (m: ValidationMetadata) => m.type === 'conditionalValidation' && m.name === 'isOptional';

function compileProperty(type: Function, property: string, list: ValidationMetadata[]): PropertyShape {
  const nested = nestedDtoOf(type, property);
  const shape: PropertyShape = { optional: list.some(isOptionalRule), check: null, opaque: isOpaqueJson(type, property), nested };
  // A value class-transformer changes before validation is judged only after that change.
  const transformed =
    transformerMetadata.findTransformMetadatas(type, property, PLAIN_TO_CLASS).length > 0 ||
    transformerMetadata.findExposeMetadata(type, property) !== undefined ||
    transformerMetadata.findExcludeMetadata(type, property) !== undefined ||
    (!nested && transformerMetadata.findTypeMetadata(type, property) !== undefined);
  if (transformed) return shape;
  const rules = list.filter((m) => !isOptionalRule(m) && m.type !== 'whitelistValidation' && !(nested && m.type === 'nestedValidation')).map(ruleOf);
  if (!rules.includes(null)) shape.check = (value) => rules.every((rule) => rule!(value));
  return shape;
}

function compile(type: Function): Shape | null {
  // Exposure rules for the whole class change which properties class-transformer copies at all.
  if (transformerMetadata.getExposedMetadatas(type).length > 0 || transformerMetadata.getExcludedMetadatas(type).length > 0) return null;
  const metadatas = getMetadataStorage().getTargetValidationMetadatas(type, '', true, false);
  const byProperty = new Map<string, ValidationMetadata[]>();
  for (const metadata of metadatas) byProperty.set(metadata.propertyName, [...(byProperty.get(metadata.propertyName) ?? []), metadata]);
  const properties = new Map<string, PropertyShape>();
  for (const [property, list] of byProperty) properties.set(property, compileProperty(type, property, list));
  return { properties, hasRules: metadatas.length > 0 };
}

const compiled = new WeakMap<Function, Shape | null>();

function shapeOf(type: Function): Shape | null {
  let shape = compiled.get(type);
  if (shape === undefined) {
    shape = compile(type);
    compiled.set(type, shape);
  }
  return shape;
}

function build(type: Function, value: unknown, withoutRules: boolean): object | undefined {
  const shape = shapeOf(type);
  if (!shape || (!shape.hasRules && !withoutRules) || !isPlainObject(value)) return undefined;
  for (const key of Object.keys(value)) if (!shape.properties.has(key)) return undefined;
  const instance = new (type as new () => Record<string, unknown>)();
  for (const [property, { optional, check, opaque, nested }] of shape.properties) {
    const item = value[property];
    if (item === undefined) {
      if (optional) continue;
      return undefined;
    }
    if (item === null || check === null || !check(item)) return undefined;
    let copy: unknown = item;
    if (nested) {
      // class-transformer makes an instance of the nested class of each item (@Type).
      const parts = Array.isArray(item) ? item.map((part) => build(nested(), part, false)) : [build(nested(), item, false)];
      if (parts.includes(undefined)) return undefined;
      copy = Array.isArray(item) ? parts : parts[0];
    } else if (Array.isArray(item) && !opaque) {
      // class-transformer copies an array; its items must be plain values to be copied alike.
      if (item.some((part) => part !== null && typeof part === 'object')) return undefined;
      copy = [...(item as unknown[])];
    } else if (typeof item === 'object' && !opaque) {
      return undefined;
    }
    instance[property] = copy;
  }
  return instance;
}

/**
 * The DTO instance for a request body that plainly satisfies every rule of `type`, built as the
 * validation pipe would (class-transformer's instances, @OpaqueJson values as parsed), or
 * undefined when class-validator must judge it: an unknown or null property, a value a rule
 * refuses, a rule the check does not know, a value class-transformer would change. Undefined
 * never means "invalid", only "ask the pipe", so every error and its message still come from
 * class-validator. For validation with `whitelist` and `forbidNonWhitelisted`, as the global
 * pipe and the task contracts do.
 */
export function fastBodyInstance(type: Function, body: unknown): object | undefined {
  return build(type, body, false);
}

/**
 * Whether `value` plainly satisfies every rule of `type` (see fastBodyInstance), for validation
 * with `forbidUnknownValues: false`, where a class without rules takes an empty object.
 * False means "ask class-validator", not "invalid".
 */
export function isPlainlyValid(type: Function, value: unknown): boolean {
  return build(type, value, true) !== undefined;
}
