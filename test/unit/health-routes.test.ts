/** /healthz, /readyz and their Prometheus-style aliases /-/healthy, /-/ready. */
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { healthRoutes } from '../../src/http/routes/health.js';

describe('health routes', () => {
  it('liveness answers 200 on both paths; readiness follows ready() on both paths', async () => {
    let isReady = false;
    const app = Fastify();
    await app.register(healthRoutes, { ready: () => isReady });
    for (const url of ['/healthz', '/-/healthy']) {
      const r = await app.inject({ method: 'GET', url });
      expect([url, r.statusCode, r.body]).toEqual([url, 200, 'ok\n']);
    }
    for (const url of ['/readyz', '/-/ready']) {
      const r = await app.inject({ method: 'GET', url });
      expect([url, r.statusCode, r.body]).toEqual([url, 503, 'not ready\n']);
    }
    isReady = true;
    for (const url of ['/readyz', '/-/ready']) {
      const r = await app.inject({ method: 'GET', url });
      expect([url, r.statusCode, r.body]).toEqual([url, 200, 'ready\n']);
    }
    // HEAD works for probes that use it.
    expect((await app.inject({ method: 'HEAD', url: '/-/healthy' })).statusCode).toBe(200);
    await app.close();
  });
});
