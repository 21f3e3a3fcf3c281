import 'reflect-metadata';
import { Type } from 'class-transformer';
import { ValidateNested, type ValidationOptions } from 'class-validator';

const SHAPE = Symbol('conveyor:opaque-json-shape');

/** Where in a DTO class the opaque JSON values are: its own properties and those of nested DTOs. */
interface OpaqueShape {
  opaque: string[];
  nested: Array<[key: string, type: () => Function]>;
}

function shapeOf(type: Function): OpaqueShape | undefined {
  return Reflect.getMetadata(SHAPE, type) as OpaqueShape | undefined;
}

function ownShape(type: Function): OpaqueShape {
  if (!Reflect.hasOwnMetadata(SHAPE, type)) {
    const inherited = shapeOf(type);
    Reflect.defineMetadata(SHAPE, { opaque: [...(inherited?.opaque ?? [])], nested: [...(inherited?.nested ?? [])] }, type);
  }
  return Reflect.getOwnMetadata(SHAPE, type) as OpaqueShape;
}

/**
 * A property holding arbitrary JSON (a task payload) that the global pipe hands to the handler
 * as parsed, never copied by class-transformer: its copy is quadratic in an object's keys, and
 * the value is validated later by whoever knows its meaning (the task type's contract). Only
 * the kind of value (object or array) is seen by the property's own rules, e.g. @IsObject().
 */
export function OpaqueJson(): PropertyDecorator {
  return (target, key) => {
    ownShape(target.constructor).opaque.push(String(key));
  };
}

/**
 * A property holding a nested DTO (or an array of them): @ValidateNested + @Type, and the pipe
 * looks for @OpaqueJson properties inside it too.
 */
export function NestedDto(type: () => Function, options: ValidationOptions = { each: true }): PropertyDecorator {
  return (target, key) => {
    ValidateNested(options)(target, key);
    Type(type)(target, key);
    ownShape(target.constructor).nested.push([String(key), type]);
  };
}

/** Whether `key` of DTO class `type` is declared @OpaqueJson. */
export function isOpaqueJson(type: Function, key: string): boolean {
  return shapeOf(type)?.opaque.includes(key) ?? false;
}

/** The class of `key` of DTO class `type` when it is declared @NestedDto. */
export function nestedDtoOf(type: Function, key: string): (() => Function) | undefined {
  return shapeOf(type)?.nested.find(([nestedKey]) => nestedKey === key)?.[1];
}

type Path = Array<string | number>;

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Splits `value` (a parsed body for DTO class `type`) into a stand-in for class-transformer, in
 * which each opaque object or array is an empty one of the same kind, and a `restore` that
 * puts the originals into the instance made from it. Only the containers on the way to an
 * opaque value are copied (shallowly); `value` itself is left as it is.
 */
export function detachOpaqueJson(value: unknown, type: Function): { standIn: unknown; restore(instance: unknown): void } {
  const detached: Array<{ path: Path; value: object }> = [];
  const strip = (node: unknown, nodeType: Function, path: Path): unknown => {
    const shape = shapeOf(nodeType);
    if (!shape || !isRecord(node)) return node;
    let copy: Record<string, unknown> | undefined;
    const replace = (key: string, replacement: unknown) => {
      copy ??= { ...node };
      copy[key] = replacement;
    };
    for (const key of shape.opaque) {
      const original = node[key];
      if (original === null || typeof original !== 'object') continue;
      detached.push({ path: [...path, key], value: original });
      replace(key, Array.isArray(original) ? [] : {});
    }
    for (const [key, nestedType] of shape.nested) {
      const child = node[key];
      if (Array.isArray(child)) {
        const items = child.map((item, index) => strip(item, nestedType(), [...path, key, index]));
        if (items.some((item, index) => item !== child[index])) replace(key, items);
      } else {
        const stripped = strip(child, nestedType(), [...path, key]);
        if (stripped !== child) replace(key, stripped);
      }
    }
    return copy ?? node;
  };
  const standIn = strip(value, type, []);
  return {
    standIn,
    restore(instance) {
      for (const { path, value: original } of detached) {
        let holder: unknown = instance;
        for (const step of path.slice(0, -1))
          holder = holder !== null && typeof holder === 'object' ? (holder as Record<string | number, unknown>)[step] : undefined;
        if (holder !== null && typeof holder === 'object') (holder as Record<string | number, unknown>)[path[path.length - 1]] = original;
      }
    },
  };
}
