import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { registerDashboardApiRoutes, type DashboardApiDependencies } from './dashboard-api-routes.js';

/** The built dashboard (`vite build` output): the same folder from `src/http` (tests) and `dist/http`. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

/**
 * Serves the web dashboard: its page at `/` and its fingerprinted bundles under `/assets/` only, so it
 * never shadows the APIs (`/api`, `/v1`, PostHog paths, `/healthz`, `/metrics`), plus the `/api/dashboard/*`
 * views it reads. Without a build, `/` says how to make one.
 */
export function registerDashboardRoutes(
  app: FastifyInstance,
  deps: DashboardApiDependencies,
  root: string = DASHBOARD_DIR,
): void {
  registerDashboardApiRoutes(app, deps);
  const index = join(root, 'index.html');
  app.get('/', async (_request, reply) => {
    if (!existsSync(index)) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send(`the dashboard is not built (no ${index}); run "npm run build"`);
    }
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .send(await readFile(index));
  });
  void app.register(fastifyStatic, {
    root: join(root, 'assets'),
    prefix: '/assets/',
    // Bundle names carry a content hash: a new build is a new name.
    immutable: true,
    maxAge: '365d',
    index: false,
  });
}
