/** Liveness and readiness. Ready means: listeners up and rules loaded. */
import type { FastifyPluginAsync } from 'fastify';

export interface HealthOptions {
  ready: () => boolean;
}

export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, opts) => {
  app.get('/healthz', async () => 'ok\n');
  app.get('/readyz', async (_req, reply) => {
    if (opts.ready()) return 'ready\n';
    return reply.code(503).send('not ready\n');
  });
};
