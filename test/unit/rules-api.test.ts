/**
 * Issue 16 part 5: the read API must not starve alerting. 5 000 firing alerts,
 * many pollers: the answer is built once per change (not per request),
 * clients can page, and beyond the concurrency bound readers get 429.
 */
import net from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { rulesApiRoutes } from '../../src/http/routes/rules-api.js';
import { RuleEngine } from '../../src/rules/engine.js';
import { T0, ev, rulesFromYaml } from '../helpers/timeline.js';
import { until } from '../helpers/sidecar.js';

const rules = (annotationBytes: number) => rulesFromYaml(`groups:
  - name: g1
    rules:
      - alert: Boom
        expr: count_over_time({job="talos-kernel"} |= "boom" [5m]) > 0
        annotations:
          summary: "boom on {{ $labels.talos_service }}: ${'x'.repeat(annotationBytes)}"
      - record: boom:count
        expr: sum(count_over_time({job="talos-kernel"} |= "boom" [5m]))
  - name: g2
    rules:
      - alert: Other
        expr: sum(count_over_time({job="talos-kernel"} |= "other" [5m])) > 0
  - name: g3
    rules:
      - alert: Third
        expr: sum(count_over_time({job="talos-kernel"} |= "third" [5m])) > 0
`);

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function setup(alerts: number, opts: { maxConcurrentReads?: number; minRebuildMs?: number; maxAgeMs?: number } = {}, annotationBytes = 10) {
  const clock = { now: T0 };
  const registry = new Registry();
  const engine = new RuleEngine({ tickMs: 1000, resolvedRetentionMs: 60_000, externalLabels: {}, externalUrl: '', now: () => clock.now, autoFlush: false });
  engine.load(rules(annotationBytes));
  for (let i = 0; i < alerts; i++) engine.ingest(ev(T0, 'boom', { talos_service: `svc-${i}` }));
  engine.flush();
  app = Fastify();
  await app.register(rulesApiRoutes, { engine, registry, ...opts });
  const builds = async (endpoint: string) => Number(new RegExp(`api_answer_builds_total\\{endpoint="${endpoint}"\\} (\\d+)`).exec(await registry.metrics())?.[1] ?? NaN);
  return { engine, clock, registry, builds, get: (url: string) => app!.inject({ method: 'GET', url }) };
}

describe('rules/alerts API under load', () => {
  it('builds the alerts answer once for 50 polls, and again only after an alert changed state', async () => {
    const { engine, clock, builds, get } = await setup(5_000, { minRebuildMs: 0, maxAgeMs: 60_000 });
    const answers = await Promise.all(Array.from({ length: 50 }, () => get('/api/v1/alerts')));
    expect(answers[0]!.json().data.alerts).toHaveLength(5_000);
    for (const a of answers) expect(a.body).toBe(answers[0]!.body);
    expect(await builds('alerts')).toBe(1);
    await Promise.all(Array.from({ length: 50 }, () => get('/api/v1/rules')));
    expect(await builds('rules')).toBe(1);

    engine.ingest(ev(T0 + 1000, 'other'));
    clock.now = T0 + 1000;
    engine.flush();
    // Current at once unless the last build overdrew the build-time budget (a slow first build); then within a few seconds.
    const after = await until(async () => (await get('/api/v1/alerts')).json().data.alerts as Array<{ labels: Record<string, string> }>, (a) => a.length === 5_001, 5_000);
    expect(after.some((a) => a.labels.alertname === 'Other')).toBe(true);
    expect(await builds('alerts')).toBe(2);
  });

  it('pages alerts with `limit`', async () => {
    const { get } = await setup(100);
    const r = (await get('/api/v1/alerts?limit=10')).json();
    expect(r.data.alerts).toHaveLength(10);
    expect(r.data).toMatchObject({ truncated: true, total: 100 });
    expect((await get('/api/v1/alerts?limit=0')).statusCode).toBe(400);
    expect((await get('/api/v1/alerts?limit=abc')).json()).toMatchObject({ status: 'error', errorType: 'bad_data' });
  });

  it('pages rule groups with group_limit / group_next_token and filters as Prometheus does', async () => {
    const { get } = await setup(3);
    const seen: string[] = [];
    let url = '/api/v1/rules?group_limit=1';
    for (let i = 0; i < 5; i++) {
      const data = (await get(url)).json().data;
      expect(data.groups).toHaveLength(1);
      seen.push(data.groups[0].name);
      if (data.groupNextToken === undefined) break;
      url = `/api/v1/rules?group_limit=1&group_next_token=${data.groupNextToken}`;
    }
    expect(seen).toEqual(['g1', 'g2', 'g3']);
    expect((await get('/api/v1/rules?group_limit=1&group_next_token=nope')).statusCode).toBe(400);
    expect((await get('/api/v1/rules?group_next_token=abc')).statusCode).toBe(400);

    const onlyRecord = (await get('/api/v1/rules?type=record')).json().data.groups;
    expect(onlyRecord.map((g: { name: string }) => g.name)).toEqual(['g1']);
    expect(onlyRecord[0].rules.map((r: { name: string }) => r.name)).toEqual(['boom:count']);
    const byName = (await get('/api/v1/rules?rule_name[]=Third&rule_name[]=Other')).json().data.groups;
    expect(byName.map((g: { name: string }) => g.name)).toEqual(['g2', 'g3']);
    const noAlerts = (await get('/api/v1/rules?exclude_alerts=true&rule_group[]=g1')).json().data.groups;
    expect(noAlerts[0].rules[0].alerts).toBeUndefined();
    expect(noAlerts[0].rules[0].state).toBe('firing');
    const withAlerts = (await get('/api/v1/rules?rule_group[]=g1')).json().data.groups;
    expect(withAlerts[0].rules[0].alerts).toHaveLength(3);
  });

  it('answers 429 beyond http.max_concurrent_api_reads while slow readers hold answers, and serves again once they go', async () => {
    const { registry } = await setup(5_000, { maxConcurrentReads: 2 }, 3_000);
    await app!.listen({ host: '127.0.0.1', port: 0 });
    const port = (app!.server.address() as net.AddressInfo).port;
    // Two readers that ask for ~15 MB and never read it.
    const slow = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => {
              s.write('GET /api/v1/alerts HTTP/1.1\r\nHost: x\r\n\r\n');
              s.pause();
              resolve(s);
            });
          }),
      ),
    );
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await fetch(`http://127.0.0.1:${port}/api/v1/alerts?limit=1`)).status;
      if (status === 429) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(429);
    expect(await registry.metrics()).toMatch(/api_reads_rejected_total [1-9]/);
    for (const s of slow) s.destroy();
    const until = Date.now() + 10_000;
    while (Date.now() < until && status !== 200) {
      await new Promise((r) => setTimeout(r, 20));
      status = (await fetch(`http://127.0.0.1:${port}/api/v1/alerts?limit=1`)).status;
    }
    expect(status).toBe(200);
  });
});
