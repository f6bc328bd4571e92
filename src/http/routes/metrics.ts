/** Prometheus exposition of the process registry. */
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';

export interface MetricsOptions {
  registry: Registry;
}

export const metricsRoutes: FastifyPluginAsync<MetricsOptions> = async (app, opts) => {
  app.get('/metrics', async (_req, reply) => {
    const text = await opts.registry.metrics();
    return reply.type(opts.registry.contentType).send(text);
  });
};
