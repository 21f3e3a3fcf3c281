import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import { consoleRoot, isHashedAsset } from './console-files';

export const CONSOLE_PATH = '/console';

/**
 * Serves the built web console (`npm run build` puts it in `dist/console`) at `/console/`, and
 * redirects `/` there. The console is static files: every call it makes goes to the JSON API
 * with the signed-in key, so these routes need none (the API key hook ignores non-controller
 * routes). Hashed assets are cached for a year; `index.html` is revalidated on every load, so
 * a deploy is picked up at once. The global security headers (helmet's default CSP: scripts,
 * styles and connections to `'self'` only) fit: the build has no inline script.
 */
export async function mountConsole(app: NestFastifyApplication, root = consoleRoot()): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.get('/', (_request, reply) => reply.redirect(`${CONSOLE_PATH}/`, 302));
  fastify.get(CONSOLE_PATH, (_request, reply) => reply.redirect(`${CONSOLE_PATH}/`, 301));
  if (!root) {
    // An API built without the console (e.g. `nest build api` alone) still starts; the page says why.
    fastify.get(`${CONSOLE_PATH}/*`, (_request, reply) =>
      reply.status(404).send({ error: { code: 'CONSOLE_NOT_BUILT', message: 'The console was not built; run `npm run build`', details: [] } }),
    );
    return;
  }
  await fastify.register(fastifyStatic, {
    root,
    prefix: `${CONSOLE_PATH}/`,
    decorateReply: false,
    cacheControl: false,
    setHeaders: (reply: FastifyReply, path: string) => {
      void reply.header('cache-control', isHashedAsset(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}
