/**
 * Wires the pipeline: sources → talos decode → bus → (rule engine → Alertmanager)
 * and (bus → Loki), plus the HTTP side. Every piece gets its typed config and
 * registers its own metrics; this is the only module that knows them all, and
 * the one place where components are handed to each other (see "Hand-offs").
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { EventBus } from './bus.js';
import { parseHostPort, type Config } from './config/schema.js';
import { readSecretFile } from './config/secret-file.js';
import { buildHttpServer } from './http/server.js';
import { createLogger } from './logger.js';
import { createRegistry } from './metrics/registry.js';
import { RuleEngine } from './rules/engine.js';
import type { RuleSet } from './rules/rule-file.js';
import { RuleRuntime, type ReloadResult } from './rules/runtime.js';
import { AlertmanagerNotifier } from './sinks/alertmanager/index.js';
import type { LokiForwarder, LokiThreadMode } from './sinks/loki/thread/forwarder.js';
import { listenError, openSources } from './sources/listen.js';
import { TalosDecoder } from './talos/decode.js';
import { IngestPipeline } from './talos/ingest.js';
import { RawLineGate } from './talos/raw-gate.js';
import type { LogSelector } from './logql/ast.js';

export interface Sidecar {
  readonly ingest: { tcpPort: number; udpPort: number };
  readonly httpPort: number;
  readonly engine: RuleEngine;
  readonly registry: Registry;
  readonly pipeline: IngestPipeline;
  readonly notifier: AlertmanagerNotifier;
  readonly loki: LokiForwarder | undefined;
  readonly logger: Logger;
  readonly http: FastifyInstance;
  /** Reload rules from their paths; a failure keeps the old rules. */
  reload(): Promise<ReloadResult>;
  /** Stop accepting, drain what was received to subscribers, flush sinks. */
  close(): Promise<void>;
}

export interface SidecarOptions {
  logger?: Logger;
  registry?: Registry;
  /** Rules already loaded (demo, tests); otherwise loaded from cfg.rules.paths. */
  ruleSet?: RuleSet;
  /** Where Loki forwarding runs (default: a worker thread when running built JavaScript). */
  lokiThread?: LokiThreadMode;
}

export async function startSidecar(cfg: Config, opts: SidecarOptions = {}): Promise<Sidecar> {
  const logger = opts.logger ?? createLogger(cfg.log);
  const registry = opts.registry ?? createRegistry();
  let ready = false;
  // What is open so far, closed again (newest first) if the start fails half-way: no half-open ports.
  const opened: Array<() => unknown> = [];
  try {
    return await start();
  } catch (e) {
    for (const undo of opened.reverse()) await Promise.resolve().then(undo).catch(() => undefined);
    throw e;
  }

  async function start(): Promise<Sidecar> {
    // Secrets before anything opens: a missing or empty token file fails the start.
    const adminToken = cfg.http.adminEnabled ? readSecretFile(cfg.http.adminTokenFile, 'http.admin.token_file') : '';

    // Components.
    const bus = new EventBus();
    const { resolvedRetentionMs, externalLabels, externalUrl, tickMs } = cfg.rules;
    const seriesLimits = { maxSeriesPerRule: cfg.rules.maxSeriesPerRule, maxWindowBytes: cfg.rules.maxWindowMemoryBytes };
    const evidence = cfg.rules.evidence; // evidence (#18)
    const engine = new RuleEngine({ resolvedRetentionMs, externalLabels, externalUrl, tickMs, seriesLimits, registry, logger: logger.child({ component: 'rules' }), evidence });
    const rules = new RuleRuntime({ rules: cfg.rules, talos: cfg.talos, state: cfg.state, engine, registry, logger, ruleSet: opts.ruleSet });
    await rules.load(); // a bad rule file at start is fatal
    const evidenceLink = { link: evidence.link, grafanaUrl: externalUrl, lokiUrl: evidence.lokiUrl || cfg.loki.url, datasourceUid: evidence.datasourceUid };
    const notifier = new AlertmanagerNotifier(cfg.alertmanager, { ...cfg.rules, evidenceLink }, { registry, logger });
    const loki = cfg.loki.url !== '' ? await startLoki(cfg, registry, logger, opts.lokiThread) : undefined;
    if (loki !== undefined) opened.push(() => loki.stop());
    // Structured metadata is built for every line decoded here: rules read it (label filters, `by`, unwrap) as Loki 3 does.
    const decoder = new TalosDecoder({ ...cfg.talos, metadata: true });
    const pipeline = new IngestPipeline(decoder, bus, logger.child({ component: 'ingest' }), registry);

    // Hand-offs: the only places one component calls another at run time.
    // Sources → pipeline → bus is wired by the constructors (openSources below, IngestPipeline above).
    bus.subscribe('rules', (ev) => engine.ingest(ev));
    // Loki gets every raw record and decodes it on its own thread; the engine is the bus's only subscriber,
    // so records no rule can match may skip JSON.parse here.
    pipeline.tap = loki;
    if (cfg.talos.lazyDecode) pipeline.gate = new RawLineGate(cfg.talos, ruleSelectors(engine), decoder.timeFallbacks);
    engine.onAlert((c) => notifier.handle(c));
    // Without Alertmanager the notifier logs each alert itself; with it, log them here.
    if (cfg.alertmanager.urls.length > 0) engine.onAlert((c) => {
      if (c.kind === 'firing' || c.kind === 'resolved') logger.info({ alertname: c.alert.labels.alertname, state: c.kind, labels: c.alert.labels, value: c.alert.value }, `alert ${c.kind}`);
    });
    // Loki's sender is woken by its own queue (inside LokiPusher), never from here.

    // Restore windows and alerts before any line arrives, after the notifier listens.
    await rules.restoreState();
    const sources = await openSources(cfg.ingest, pipeline, registry);
    opened.push(() => sources.close());
    const http = await buildHttpServer({
      registry,
      engine,
      ready: () => ready,
      reload: rules.reload,
      admin: { enabled: cfg.http.adminEnabled, token: adminToken },
      bodyLimitBytes: cfg.http.bodyLimitBytes,
      maxConcurrentApiReads: cfg.http.maxConcurrentApiReads,
    });
    opened.push(() => http.close());
    const httpAddr = parseHostPort(cfg.http.listen, 'http.listen');
    await http.listen({ host: httpAddr.host, port: httpAddr.port }).catch((e: unknown) => Promise.reject(listenError('http.listen', `${httpAddr.host}:${httpAddr.port}`, e)));
    const httpPort = (http.server.address() as { port: number }).port;

    engine.start();
    opened.push(() => engine.stop());
    notifier.start();
    opened.push(() => notifier.stop());
    await rules.watch();
    opened.push(() => rules.stopWatching());
    ready = true;
    const { tcpPort, udpPort } = sources;
    logger.info({ tcpPort, udpPort, httpPort, rules: engine.loadedRules().length }, 'talos-alert-sidecar ready');

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        ready = false;
        rules.stopWatching();
        await sources.close();
        // Everything received has been published synchronously; evaluate what it touched.
        engine.stop();
        await rules.stop(); // saves the state file
        await notifier.stop();
        await loki?.stop();
        await http.close();
        logger.info('stopped');
      })();
      return closing;
    };

    return { ingest: { tcpPort, udpPort }, httpPort, engine, registry, pipeline, notifier, loki, logger, http, reload: rules.reload, close };
  }
}

/** The loaded rules' selectors, the same array until the rules change (the gate recompiles then). */
function ruleSelectors(engine: RuleEngine): () => readonly LogSelector[] {
  let rules: unknown;
  let selectors: LogSelector[] = [];
  return () => {
    const now = engine.loadedRules();
    if (now !== rules) {
      rules = now;
      selectors = now.flatMap((r) => r.source.sources.map((s) => s.expr.selector));
    }
    return selectors;
  };
}

/** Loaded only when configured. The pusher's start (credentials, TLS files, spool) fails as a ConfigError. */
async function startLoki(cfg: Config, registry: Registry, logger: Logger, mode: LokiThreadMode | undefined): Promise<LokiForwarder> {
  const { LokiForwarder } = await import('./sinks/loki/thread/forwarder.js');
  const forwarder = new LokiForwarder({ loki: cfg.loki, talos: cfg.talos, log: cfg.log }, { registry, logger: logger.child({ component: 'loki' }), mode });
  await forwarder.start();
  return forwarder;
}
