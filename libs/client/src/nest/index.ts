import { Module, type DynamicModule, type InjectionToken, type ModuleMetadata, type OptionalFactoryDependency } from '@nestjs/common';
import { ConveyorClient, type ConveyorClientOptions } from '../conveyor-client.js';

export interface ConveyorClientAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  useFactory: (...args: never[]) => ConveyorClientOptions | Promise<ConveyorClientOptions>;
  /** Registered for the whole app (default true), so any module may inject ConveyorClient. */
  isGlobal?: boolean;
}

/**
 * For NestJS producer apps: `ConveyorClientModule.forRoot({ url, apiKey })` (or `forRootAsync`
 * with a factory, e.g. from ConfigService), then inject `ConveyorClient` where tasks are enqueued.
 */
@Module({})
export class ConveyorClientModule {
  static forRoot(options: ConveyorClientOptions & { isGlobal?: boolean }): DynamicModule {
    const { isGlobal = true, ...clientOptions } = options;
    return {
      module: ConveyorClientModule,
      global: isGlobal,
      providers: [{ provide: ConveyorClient, useValue: new ConveyorClient(clientOptions) }],
      exports: [ConveyorClient],
    };
  }

  static forRootAsync(options: ConveyorClientAsyncOptions): DynamicModule {
    return {
      module: ConveyorClientModule,
      global: options.isGlobal ?? true,
      imports: options.imports ?? [],
      providers: [
        {
          provide: ConveyorClient,
          useFactory: async (...args: unknown[]) => new ConveyorClient(await options.useFactory(...(args as never[]))),
          inject: options.inject ?? [],
        },
      ],
      exports: [ConveyorClient],
    };
  }
}

export { ConveyorClient };
