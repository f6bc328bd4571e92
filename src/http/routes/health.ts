/**
 * Liveness and readiness. Ready means: listeners up and rules loaded.
 * `/-/healthy` and `/-/ready` are the Prometheus/Alertmanager/Loki-style
 * aliases (what their probes and runbooks use); same answers.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

export interface HealthOptions {
  ready: () => boolean;
}

export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, opts) => {
  const healthy = async (): Promise<string> => 'ok\n';
  const ready = async (_req: unknown, reply: FastifyReply): Promise<string | FastifyReply> => {
    if (opts.ready()) return 'ready\n';
    return reply.code(503).send('not ready\n');
  };
  app.get('/healthz', healthy);
  app.get('/-/healthy', healthy);
  app.get('/readyz', ready);
  app.get('/-/ready', ready);
};
