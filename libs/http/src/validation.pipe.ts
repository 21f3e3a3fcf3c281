import { ValidationPipe, type ArgumentMetadata } from '@nestjs/common';
import { detachOpaqueJson } from './opaque-json';

/**
 * The global ValidationPipe, except that @OpaqueJson values reach the handler as parsed instead
 * of as class-transformer's copies. Size and content limits are checked before, on every
 * route, by installInputLimits.
 */
export class OpaqueJsonValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'body' || typeof metadata.metatype !== 'function') return super.transform(value, metadata);
    // metatype is the DTO class, not a method: typescript-eslint mistakes Nest's `Type` (a callable interface) for one.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const { standIn, restore } = detachOpaqueJson(value, metadata.metatype);
    const instance: unknown = await super.transform(standIn, metadata);
    restore(instance);
    return instance;
  }
}
