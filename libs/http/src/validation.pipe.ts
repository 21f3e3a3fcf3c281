import { ValidationPipe, type ArgumentMetadata, type ValidationPipeOptions } from '@nestjs/common';
import { fastBodyInstance } from './fast-body-check';
import { detachOpaqueJson } from './opaque-json';

/**
 * The global ValidationPipe, except that @OpaqueJson values reach the handler as parsed instead
 * of as class-transformer's copies, and that a body plainly satisfying its DTO's rules is taken
 * without class-transformer and class-validator (fastBodyInstance: a check compiled once from
 * the DTO's own decorators); any other body, valid or not, goes through them as before, so
 * every error is theirs. Size and content limits are checked before, on every route, by
 * installInputLimits.
 */
export class OpaqueJsonValidationPipe extends ValidationPipe {
  /** The fast check knows the rules as `whitelist` + `forbidNonWhitelisted` + `transform` apply them. */
  private readonly fastPath: boolean;

  constructor(options: ValidationPipeOptions = {}) {
    super(options);
    this.fastPath = !!options.transform && !!options.whitelist && !!options.forbidNonWhitelisted && !options.expectedType && !options.groups?.length;
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'body' || typeof metadata.metatype !== 'function') return super.transform(value, metadata);
    const metatype: Function = metadata.metatype;
    const fast = this.fastPath ? fastBodyInstance(metatype, value) : undefined;
    if (fast) return fast;
    // `restore` is a closure, not a method: typescript-eslint cannot tell from its type.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const { standIn, restore } = detachOpaqueJson(value, metatype);
    const instance: unknown = await super.transform(standIn, metadata);
    restore(instance);
    return instance;
  }
}
