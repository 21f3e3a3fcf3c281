import type { INestApplication } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import type { FastifyRequest } from 'fastify';
import { PUBLIC_ROUTE } from '@conveyor/http';

/** The key of a route's auth policy in its Fastify route config. */
const ROUTE_AUTH = 'conveyorAuth';

/** `api-key`: a controller route that needs a key; `public`: one marked @Public(). */
export type RouteAuth = 'api-key' | 'public';

/**
 * Writes every controller route's policy (from @Public() on the method or the class, as the
 * guard reads it) into the route's Fastify config, where Nest's Fastify adapter passes it on.
 * That lets a Fastify hook decide before the body is read. Routes that are not controller
 * methods (Swagger UI, Bull Board with its own Basic auth, 404s) get no policy and are left to
 * their owners. Call before the app is initialised (routes are registered then).
 */
export function declareRouteAuth(app: INestApplication): void {
  const reflector = app.get(Reflector);
  const scanner = new MetadataScanner();
  for (const wrapper of app.get(DiscoveryService).getControllers()) {
    const controller = wrapper.metatype as (new (...args: never[]) => unknown) | undefined;
    const prototype = controller?.prototype as Record<string, unknown> | undefined;
    if (!controller || !prototype) continue;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const handler = prototype[name] as object;
      if (Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
      const isPublic = reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [handler as () => void, controller]) ?? false;
      const config = (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) ?? {}) as Record<string, unknown>;
      Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...config, [ROUTE_AUTH]: isPublic ? 'public' : 'api-key' }, handler);
    }
  }
}

/** The policy declareRouteAuth gave the matched route, or undefined for any other route. */
export function routeAuthOf(request: FastifyRequest): RouteAuth | undefined {
  return (request.routeOptions.config as unknown as Record<string, unknown> | undefined)?.[ROUTE_AUTH] as RouteAuth | undefined;
}
