/**
 * Tells Alertmanager about alerts, the way Prometheus's rule manager and
 * notifier do (rules/alerting.go sendAlerts + notifier/), but at once:
 *
 * - `firing` and `resolved` changes are queued to every replica and posted in
 *   the same turn of the event loop (what arrived together goes in one batch).
 * - Firing alerts are re-sent every resendDelay with endsAt = now + 4·max(tick,
 *   resendDelay); resolved alerts carry endsAt = resolvedAt and are re-sent
 *   during the retention, then forgotten. Pending alerts are never sent.
 * - startsAt/endsAt are never later than the notifier's clock (see 'resolved').
 * - Without Alertmanager URLs, alerts are only logged.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { Registry } from '../../metrics/registry.js';
import { alertKey, type Alert, type AlertChange, type RuleRef } from '../../rules/alert.js';
import { evidenceLink, lokiExploreLink, type EvidenceLinkConfig } from './generator-url.js';
import { alertmanagerMetrics } from './metrics.js';
import { firingEndsAt, rfc3339, withExternalLabels, type PostableAlert } from './payload.js';
import { ReplicaSender, type Delivery } from './replica.js';
import { endpointFor, HttpTransport } from './transport.js';

export type NotifierRulesConfig = Pick<Config['rules'], 'resendDelayMs' | 'tickMs' | 'resolvedRetentionMs' | 'externalUrl' | 'externalLabels'> & {
  /** Issue #18: link generatorURL to the alert's log lines instead of Loki's ruler link. */
  evidenceLink?: EvidenceLinkConfig;
};

export interface NotifierDeps {
  registry: Registry;
  logger: Logger;
  /** Clock for startsAt/endsAt and resend timing (ms since epoch). */
  now?: () => number;
}

/** What Alertmanager is currently being told about. */
export enum NotifiedState {
  Firing = 'firing',
  Resolved = 'resolved',
}

/** A tracked alert, as reported by {@link AlertmanagerNotifier.tracked}. */
export interface TrackedAlertView {
  readonly rule: RuleRef;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly state: NotifiedState;
  readonly startsAt: string;
  /** Set once resolved. */
  readonly endsAt: string | undefined;
  readonly lastSentAt: string;
}

interface Tracked {
  readonly rule: RuleRef;
  /** The engine's alert: labels/annotations are read from it at each send. */
  alert: Readonly<Alert>;
  /** The engine's live alert object, when it provides one (current annotations for resends). */
  live: Readonly<Alert> | undefined;
  /** Alert labels + external labels: what Alertmanager sees. */
  labels: Record<string, string>;
  /** alertKey(labels): Alertmanager's identity for the replica queues. */
  amKey: string;
  state: NotifiedState;
  firedAtMs: number;
  resolvedAtMs: number;
  lastSentMs: number;
}

/** Upper bound on how long stop() waits for in-flight and queued sends. */
const STOP_BOUND_MS = 5_000;

export class AlertmanagerNotifier {
  private readonly tracked_ = new Map<string, Tracked>();
  private readonly replicas: ReplicaSender[];
  private readonly transport: HttpTransport | undefined;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly externalNames: readonly string[];
  private readonly generatorUrls = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private flushScheduled = false;
  private stopped = false;
  /** handle() failures (should stay 0; handle never throws to the engine). */
  handleErrors = 0;

  constructor(
    private readonly cfg: Config['alertmanager'],
    private readonly rules: NotifierRulesConfig,
    deps: NotifierDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.logger = deps.logger.child({ component: 'alertmanager' });
    this.externalNames = Object.keys(rules.externalLabels);
    const metrics = alertmanagerMetrics(deps.registry);
    // Credentials and TLS files are read here, once; without replicas they are irrelevant.
    this.transport = cfg.urls.length > 0 ? new HttpTransport(cfg) : undefined;
    const opts = { capacity: cfg.queueCapacity, maxBatch: cfg.maxBatch, minBackoffMs: cfg.minBackoffMs, maxBackoffMs: cfg.maxBackoffMs };
    this.replicas = cfg.urls.map((u) => new ReplicaSender(endpointFor(u), opts, this.transport!, metrics, this.logger));
    if (this.replicas.length === 0) this.logger.info('no alertmanager configured: alerts are logged, not sent');
  }

  /** Endpoint labels (credential-free URLs) of the configured replicas. */
  get alertmanagers(): string[] {
    return this.replicas.map((r) => r.endpoint.label);
  }

  /** Engine subscriber: synchronous, bounded work, never throws. */
  handle(change: AlertChange): void {
    if (this.stopped) return;
    try {
      this.apply(change);
    } catch (err) {
      this.handleErrors++;
      // The change itself may be what is broken: read nothing from it that could throw again.
      let alertname: unknown;
      try {
        alertname = change.alert.labels.alertname;
      } catch {
        alertname = undefined;
      }
      this.logger.error({ err, alertname, kind: change?.kind }, 'alert change not handled');
    }
  }

  private apply(change: AlertChange): void {
    const key = trackKey(change.rule, change.alert.labels);
    const t = this.tracked_.get(key);
    switch (change.kind) {
      case 'pending':
        // The series came back after resolving: Prometheus replaces the resolved
        // alert with a new pending one and stops re-sending the resolution.
        if (t !== undefined && t.state === NotifiedState.Resolved) this.tracked_.delete(key);
        return;
      case 'removed':
        this.tracked_.delete(key);
        return;
      case 'firing': {
        const a = change.alert;
        const e = t ?? this.track(key, change);
        e.alert = a;
        e.live = change.live;
        e.state = NotifiedState.Firing;
        e.firedAtMs = Math.min(a.firedAtMs > 0 ? a.firedAtMs : change.atMs, this.now());
        e.resolvedAtMs = 0;
        this.send(e, change.causeReceivedMs, true);
        return;
      }
      case 'resolved': {
        const a = change.alert;
        const e = t ?? this.track(key, change);
        e.alert = a;
        e.live = change.live;
        e.state = NotifiedState.Resolved;
        const now = this.now();
        if (e.firedAtMs === 0) e.firedAtMs = Math.min(a.firedAtMs > 0 ? a.firedAtMs : a.activeAtMs, now);
        // Never in the future: Alertmanager treats a resolved alert whose endsAt
        // has not passed as firing, and its merge then keeps the earlier firing
        // endsAt (minutes away), so the resolution would be lost until a resend.
        // The engine evaluates at grid instants, which can be ahead of the clock.
        e.resolvedAtMs = Math.min(a.resolvedAtMs > 0 ? a.resolvedAtMs : change.atMs, now);
        this.send(e, change.causeReceivedMs, true);
        return;
      }
    }
  }

  private track(key: string, change: AlertChange): Tracked {
    const labels = withExternalLabels(change.alert.labels, this.rules.externalLabels, this.externalNames);
    const t: Tracked = {
      rule: change.rule,
      alert: change.alert,
      live: change.live,
      labels,
      amKey: alertKey(labels),
      state: NotifiedState.Firing,
      firedAtMs: 0,
      resolvedAtMs: 0,
      lastSentMs: 0,
    };
    this.tracked_.set(key, t);
    return t;
  }

  private send(t: Tracked, causeReceivedMs: number | undefined, isChange: boolean): void {
    const now = this.now();
    t.lastSentMs = now;
    if (this.replicas.length === 0) {
      if (isChange) {
        this.logger.info({ alertname: t.labels.alertname, state: t.state, labels: t.labels }, 'alert (not sent: no alertmanager configured)');
      }
      return;
    }
    if (isChange) this.logger.debug({ alertname: t.labels.alertname, state: t.state, labels: t.labels }, 'alert');
    const json = JSON.stringify(this.postable(t, now));
    let delivery: Delivery | undefined;
    if (causeReceivedMs !== undefined) {
      delivery = { causeReceivedMs, handledWallMs: Date.now(), handledPerfMs: performance.now(), observed: false };
    }
    const q = { key: t.amKey, json, delivery };
    for (const r of this.replicas) r.enqueue(q);
    this.scheduleFlush();
  }

  private postable(t: Tracked, now: number): PostableAlert {
    const p: PostableAlert = {
      labels: t.labels,
      // The live alert's annotations are re-rendered at every evaluation ({{ $value }}).
      annotations: { ...(t.live ?? t.alert).annotations },
      startsAt: rfc3339(t.firedAtMs),
      endsAt: rfc3339(t.state === NotifiedState.Resolved ? t.resolvedAtMs : firingEndsAt(now, this.rules.tickMs, this.rules.resendDelayMs)),
    };
    const ev = this.rules.evidenceLink; // evidence link (#18): the log query over this alert's window
    const g = ev !== undefined && ev.link !== 'ruler' ? evidenceLink(ev, t.rule.logQueries ?? [], t.alert.activeAtMs, t.state === NotifiedState.Resolved ? t.resolvedAtMs : now) : this.generatorUrl(t.rule);
    if (g !== '') p.generatorURL = g;
    return p;
  }

  private generatorUrl(rule: RuleRef): string {
    if (this.rules.externalUrl === '') return '';
    let g = this.generatorUrls.get(rule.expr);
    if (g === undefined) {
      g = lokiExploreLink(this.rules.externalUrl, rule.expr);
      if (this.generatorUrls.size > 10_000) this.generatorUrls.clear(); // rules reloaded many times
      this.generatorUrls.set(rule.expr, g);
    }
    return g;
  }

  /** Post everything queued once the current synchronous work (e.g. one evaluation) is done. */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      for (const r of this.replicas) r.kick();
    });
  }

  /**
   * One resend pass (the timer calls this every tick): re-send alerts whose
   * last send is resendDelay old, forget resolved alerts past retention.
   */
  tick(): void {
    if (this.stopped) return;
    try {
      const now = this.now();
      const { resendDelayMs, resolvedRetentionMs } = this.rules;
      for (const [k, t] of this.tracked_) {
        if (t.state === NotifiedState.Resolved && now - t.resolvedAtMs >= resolvedRetentionMs) {
          this.tracked_.delete(k);
          continue;
        }
        if (now - t.lastSentMs >= resendDelayMs) this.send(t, undefined, false);
      }
    } catch (err) {
      this.logger.error({ err }, 'alert resend pass failed');
    }
  }

  start(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setInterval(() => this.tick(), Math.max(1, Math.min(this.rules.tickMs, this.rules.resendDelayMs)));
    this.timer.unref();
  }

  /** Stop resending; give queued and in-flight sends a bounded time to finish. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const bound = Math.min(this.cfg.timeoutMs, STOP_BOUND_MS);
    await Promise.all(this.replicas.map((r) => r.stop(bound)));
    this.transport?.close();
  }

  /** Number of alerts currently tracked (firing, or resolved within retention). */
  get trackedCount(): number {
    return this.tracked_.size;
  }

  /** Alerts currently tracked (for logging when no Alertmanager is configured, and for inspection). */
  tracked(): TrackedAlertView[] {
    const out: TrackedAlertView[] = [];
    for (const t of this.tracked_.values()) {
      out.push({
        rule: t.rule,
        labels: t.labels,
        annotations: t.alert.annotations,
        state: t.state,
        startsAt: rfc3339(t.firedAtMs),
        endsAt: t.state === NotifiedState.Resolved ? rfc3339(t.resolvedAtMs) : undefined,
        lastSentAt: rfc3339(t.lastSentMs),
      });
    }
    return out;
  }

  /** Alerts queued per replica (endpoint label → count), excluding batches in flight. */
  queueLengths(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.replicas) out[r.endpoint.label] = r.queued;
    return out;
  }
}

function trackKey(rule: RuleRef, labels: Readonly<Record<string, string>>): string {
  return `${rule.file}\u0002${rule.group}\u0002${rule.name}\u0002${alertKey(labels)}`;
}
