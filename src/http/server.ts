/** The HTTP side: fastify with each route group as a plugin. */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';
import type { RuleEngine } from '../rules/engine.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { reloadRoutes, type ReloadOptions } from './routes/reload.js';
import { rulesApiRoutes } from './routes/rules-api.js';

export interface HttpDeps {
  registry: Registry;
  engine: RuleEngine;
  ready: () => boolean;
  reload: ReloadOptions['reload'];
  admin: { enabled: boolean; token: string };
  bodyLimitBytes: number;
  /** Rules/alerts API answers in flight at once (http.max_concurrent_api_reads). */
  maxConcurrentApiReads?: number;
}

/** Compilers for routes without schemas: every body is valid, replies are JSON.stringify'd. */
const NO_SCHEMA_COMPILERS = {
  buildValidator: () => () => () => true,
  buildSerializer: () => () => (data: unknown) => JSON.stringify(data),
} as unknown as NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;

export async function buildHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  // Our own pino logs what matters; fastify's per-request logging would drown it.
  const app = Fastify({
    logger: false,
    bodyLimit: deps.bodyLimitBytes,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    // No route declares a JSON schema: skip loading Ajv and fast-json-stringify (≈ 40 ms of start-up).
    schemaController: { compilersFactory: NO_SCHEMA_COMPILERS },
  });
  await app.register(healthRoutes, { ready: deps.ready });
  await app.register(metricsRoutes, { registry: deps.registry });
  await app.register(rulesApiRoutes, { engine: deps.engine, registry: deps.registry, maxConcurrentReads: deps.maxConcurrentApiReads });
  await app.register(reloadRoutes, { enabled: deps.admin.enabled, token: deps.admin.token, reload: deps.reload });
  return app;
}
