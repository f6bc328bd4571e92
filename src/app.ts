/**
 * Wires the pipeline: sources → decode → bus → (rule engine → Alertmanager)
 * and (bus → Loki), plus the HTTP side. Every piece gets typed config; this is
 * the only module that knows them all.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { EventBus } from './bus.js';
import { parseHostPort, type Config } from './config/schema.js';
import { buildHttpServer } from './http/server.js';
import { createLogger } from './logger.js';
import { createRegistry, METRIC_PREFIX } from './metrics/registry.js';
import { EventLoopLag } from './metrics/event-loop-lag.js';
import { TotalsCounter } from './metrics/totals-counter.js';
import { RuleEngine } from './rules/engine.js';
import { loadRuleSet } from './rules/load.js';
import type { RuleSet } from './rules/rule-file.js';
import { RuleWatcher } from './rules/watch.js';
import { readStateFile, writeStateFile } from './rules/state-file.js';
import { AlertmanagerNotifier } from './sinks/alertmanager/index.js';
import type { LokiPusher } from './sinks/loki/pusher.js';
import { PeerAllowlist } from './sources/allowlist.js';
import { TcpSource } from './sources/tcp.js';
import { UdpSource } from './sources/udp.js';
import { TalosDecoder } from './talos/decode.js';
import { IngestPipeline } from './talos/ingest.js';

export interface Sidecar {
  readonly ingest: { tcpPort: number; udpPort: number };
  readonly httpPort: number;
  readonly engine: RuleEngine;
  readonly registry: Registry;
  readonly pipeline: IngestPipeline;
  readonly notifier: AlertmanagerNotifier;
  readonly loki: LokiPusher | undefined;
  readonly logger: Logger;
  readonly http: FastifyInstance;
  /** Reload rules from their paths; a failure keeps the old rules. */
  reload(): Promise<{ ok: true; rules: number } | { ok: false; error: string }>;
  /** Stop accepting, drain what was received to subscribers, flush sinks. */
  close(): Promise<void>;
}

export interface SidecarOptions {
  logger?: Logger;
  registry?: Registry;
  /** Rules already loaded (demo, tests); otherwise loaded from cfg.rules.paths. */
  ruleSet?: RuleSet;
}

export async function startSidecar(cfg: Config, opts: SidecarOptions = {}): Promise<Sidecar> {
  const logger = opts.logger ?? createLogger(cfg.log);
  const registry = opts.registry ?? createRegistry();
  const bus = new EventBus();
  let ready = false;

  const engine = new RuleEngine({
    resolvedRetentionMs: cfg.rules.resolvedRetentionMs,
    externalLabels: cfg.rules.externalLabels,
    externalUrl: cfg.rules.externalUrl,
    tickMs: cfg.rules.tickMs,
    seriesLimits: { maxSeriesPerRule: cfg.rules.maxSeriesPerRule, maxWindowBytes: cfg.rules.maxWindowMemoryBytes },
    registry,
    logger: logger.child({ component: 'rules' }),
  });

  const reloadOk = new Gauge({ name: `${METRIC_PREFIX}rules_last_reload_successful`, help: 'Whether the last rule reload succeeded (1) or failed and the previous rules are kept (0).', registers: [registry] });
  const reloadTime = new Gauge({ name: `${METRIC_PREFIX}rules_last_reload_success_timestamp_seconds`, help: 'When rules were last loaded successfully.', registers: [registry] });
  const loadedRules = new Gauge({ name: `${METRIC_PREFIX}rules_loaded`, help: 'Rules loaded, by type.', labelNames: ['type'], registers: [registry] });

  const applyRuleSet = (set: RuleSet): number => {
    engine.load(set);
    const rules = set.groups.flatMap((g) => g.rules);
    loadedRules.set({ type: 'alerting' }, rules.filter((r) => r.kind === 'alert').length);
    loadedRules.set({ type: 'recording' }, rules.filter((r) => r.kind === 'record').length);
    reloadOk.set(1);
    reloadTime.set(Date.now() / 1000);
    for (const s of set.skipped) logger.warn({ file: s.file, group: s.group, rule: s.rule, reason: s.reason }, 'rule skipped (unsupported LogQL)');
    return rules.length;
  };

  const reload = async (): Promise<{ ok: true; rules: number } | { ok: false; error: string }> => {
    try {
      const set = await loadRuleSet(cfg.rules.paths, { unsupported: cfg.rules.unsupported });
      const n = applyRuleSet(set);
      logger.info({ rules: n, groups: set.groups.length, skipped: set.skipped.length }, 'rules loaded');
      return { ok: true, rules: n };
    } catch (e) {
      reloadOk.set(0);
      const error = (e as Error).message;
      logger.error({ err: error }, 'rule reload failed; keeping the previous rules');
      return { ok: false, error };
    }
  };

  // At start a bad rule file is fatal (like Loki and Prometheus); later reloads keep the old rules.
  applyRuleSet(opts.ruleSet ?? (await loadRuleSet(cfg.rules.paths, { unsupported: cfg.rules.unsupported })));

  const notifier = new AlertmanagerNotifier(cfg.alertmanager, cfg.rules, { registry, logger });
  engine.onAlert((c) => notifier.handle(c));
  if (cfg.alertmanager.urls.length > 0) {
    // Without Alertmanager the notifier logs each alert itself.
    engine.onAlert((c) => {
      if (c.kind === 'firing' || c.kind === 'resolved') logger.info({ alertname: c.alert.labels.alertname, state: c.kind, labels: c.alert.labels, value: c.alert.value }, `alert ${c.kind}`);
    });
  }
  bus.subscribe('rules', (ev) => engine.ingest(ev));

  // Restore windows and alerts before any line arrives, after the notifier listens.
  const saveState = async (): Promise<void> => {
    if (cfg.state.file === '') return;
    try {
      await writeStateFile(cfg.state.file, engine.snapshot());
    } catch (e) {
      logger.error({ err: (e as Error).message, file: cfg.state.file }, 'could not write the state file');
    }
  };
  if (cfg.state.file !== '') {
    try {
      const snap = await readStateFile(cfg.state.file);
      if (snap !== undefined) logger.info({ file: cfg.state.file, rules: engine.restore(snap), savedAt: new Date(snap.savedAtMs).toISOString() }, 'rule state restored');
    } catch (e) {
      logger.warn({ err: (e as Error).message, file: cfg.state.file }, 'state file ignored');
    }
  }
  const stateTimer = cfg.state.file !== '' ? setInterval(() => void saveState(), cfg.state.intervalMs) : undefined;
  stateTimer?.unref();

  let loki: LokiPusher | undefined;
  if (cfg.loki.url !== '') {
    // Loaded only when configured: protobuf and snappy cost start-up time otherwise.
    const { LokiPusher } = await import('./sinks/loki/pusher.js');
    loki = new LokiPusher(cfg.loki, { registry, logger: logger.child({ component: 'loki' }) });
    await loki.start();
    const pusher = loki;
    bus.subscribe('loki', (ev) => pusher.handle(ev));
  }

  const decoder = new TalosDecoder({
    job: cfg.talos.job,
    lineFormat: cfg.talos.lineFormat,
    hostNames: cfg.talos.hostNames,
    labelFields: cfg.talos.labelFields,
    staticLabels: cfg.talos.staticLabels,
    futureToleranceMs: cfg.talos.futureToleranceMs,
    metadata: cfg.loki.url !== '' && cfg.loki.structuredMetadata,
  });
  const pipeline = new IngestPipeline(decoder, bus, logger.child({ component: 'ingest' }), registry);

  const { host, port } = parseHostPort(cfg.ingest.listen, 'ingest.listen');
  const allowlist = new PeerAllowlist(cfg.ingest.allowCidrs);
  const tcp = cfg.ingest.tcp
    ? new TcpSource({ host, port, maxLineBytes: cfg.ingest.maxLineBytes, maxConnections: cfg.ingest.maxConnections, idleTimeoutMs: cfg.ingest.idleTimeoutMs, allowlist }, pipeline)
    : undefined;
  const tcpPort = tcp !== undefined ? await tcp.listen() : 0;
  // UDP shares the TCP port (port 0: the one TCP got), as Talos destinations name one host:port.
  const udp = cfg.ingest.udp ? new UdpSource({ host, port: tcp !== undefined ? tcpPort : port, allowlist }, pipeline) : undefined;
  const udpPort = udp !== undefined ? await udp.listen() : 0;
  new Gauge({
    name: `${METRIC_PREFIX}connections`,
    help: 'Open ingest connections (UDP is connectionless: always 0).',
    labelNames: ['proto'],
    registers: [registry],
    collect() {
      this.set({ proto: 'tcp' }, tcp?.connections ?? 0);
      this.set({ proto: 'udp' }, 0);
    },
  });
  new TotalsCounter(registry, {
    name: `${METRIC_PREFIX}connections_refused_total`,
    help: 'Ingest TCP connections refused: at max_connections with no silent connection to evict (limit), or from outside allow_cidrs (allowlist).',
    labelNames: ['reason'],
    totals: () => [
      [{ reason: 'limit' }, tcp?.refusedAtLimit ?? 0],
      [{ reason: 'allowlist' }, (tcp?.refused ?? 0) - (tcp?.refusedAtLimit ?? 0)],
    ],
  });
  new TotalsCounter(registry, {
    name: `${METRIC_PREFIX}connections_evicted_total`,
    help: 'Ingest TCP connections closed at max_connections to make room: the oldest that never delivered a complete line.',
    totals: () => [[{}, tcp?.evicted ?? 0]],
  });
  const lag = new EventLoopLag(registry);

  const adminToken = cfg.http.adminEnabled ? readFileSync(cfg.http.adminTokenFile, 'utf8').trim() : '';
  const http = await buildHttpServer({
    registry,
    engine,
    ready: () => ready,
    reload,
    admin: { enabled: cfg.http.adminEnabled, token: adminToken },
    bodyLimitBytes: cfg.http.bodyLimitBytes,
    maxConcurrentApiReads: cfg.http.maxConcurrentApiReads,
  });
  const httpAddr = parseHostPort(cfg.http.listen, 'http.listen');
  await http.listen({ host: httpAddr.host, port: httpAddr.port });
  const httpPort = (http.server.address() as { port: number }).port;

  engine.start();
  notifier.start();
  const watcher = cfg.rules.watch && opts.ruleSet === undefined ? new RuleWatcher(cfg.rules.paths, async () => void (await reload())) : undefined;
  await watcher?.start();
  ready = true;
  logger.info({ tcpPort, udpPort, httpPort, rules: engine.loadedRules().length }, 'talos-alert-sidecar ready');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ready = false;
      watcher?.stop();
      await Promise.all([tcp?.close(), udp?.close()]);
      // Everything received has been published synchronously; evaluate what it touched.
      engine.stop();
      if (stateTimer !== undefined) clearInterval(stateTimer);
      await saveState();
      await notifier.stop();
      await loki?.stop();
      lag.stop();
      await http.close();
      logger.info('stopped');
    })();
    return closing;
  };

  return { ingest: { tcpPort, udpPort }, httpPort, engine, registry, pipeline, notifier, loki, logger, http, reload, close };
}
