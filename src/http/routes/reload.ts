/**
 * POST /-/reload (as Prometheus and Loki). Off unless enabled; then it needs
 * the admin bearer token. A failed reload keeps the old rules and answers 4xx
 * with the reason.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';

export interface ReloadOptions {
  enabled: boolean;
  token: string;
  reload: () => Promise<{ ok: true; rules: number } | { ok: false; error: string }>;
}

function tokenMatches(header: string | undefined, token: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7));
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

export const reloadRoutes: FastifyPluginAsync<ReloadOptions> = async (app, opts) => {
  app.post('/-/reload', async (req, reply) => {
    if (!opts.enabled) return reply.code(403).send({ status: 'error', error: 'admin endpoints are disabled (http.admin.enabled)' });
    if (!tokenMatches(req.headers.authorization, opts.token)) {
      return reply.code(401).header('WWW-Authenticate', 'Bearer').send({ status: 'error', error: 'missing or wrong bearer token' });
    }
    const r = await opts.reload();
    if (!r.ok) return reply.code(422).send({ status: 'error', error: r.error });
    return { status: 'success', rules: r.rules };
  });
};
