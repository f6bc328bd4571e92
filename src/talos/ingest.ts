/**
 * The ingest step between the sources and the bus: decode each record, count
 * it, publish it. Counters live in plain numbers on the hot path and are handed
 * to prom-client only when /metrics is scraped (TotalsCounter).
 */
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { EventBus } from '../bus.js';
import { METRIC_PREFIX } from '../metrics/registry.js';
import { TotalsCounter } from '../metrics/totals-counter.js';
import type { Proto, RecordSink, RejectReason } from '../sources/ingest-target.js';
import type { LabelSet } from '../log-event.js';
import type { TalosDecoder } from './decode.js';
import type { RawLineGate } from './raw-gate.js';

/** A consumer of raw records (LokiForwarder). */
export interface RecordTap {
  record(text: string, peer: string, proto: Proto, receivedMs: number): void;
}

interface StreamCount {
  host: string;
  stream: string;
  n: number;
}

/** Logs a flood of bad input at most once per interval per reason; counting is separate and always. */
class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  warn(reason: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const s = this.last.get(reason);
    if (s !== undefined && now - s.at < this.intervalMs) {
      s.suppressed++;
      return;
    }
    this.logger.warn({ ...fields, reason, suppressed: s?.suppressed ?? 0 }, msg);
    this.last.set(reason, { at: now, suppressed: 0 });
  }
}

/** Label sets counted individually; more are counted by host and stream. */
const MAX_TRACKED_STREAMS = 10_000;

export class IngestPipeline implements RecordSink {
  private readonly perStream = new Map<LabelSet, StreamCount>();
  /** Counts for streams beyond MAX_TRACKED_STREAMS, by host and stream. */
  private readonly overflow = new Map<string, StreamCount>();
  private readonly rejects = new Map<RejectReason, number>();
  private readonly bytesIn: Record<Proto, number> = { tcp: 0, udp: 0 };
  private readonly badLog: RateLimitedLog;
  /** Records that became events, or that the gate counted without decoding (no rule could match them). */
  accepted = 0;
  /**
   * Lazy decoding (alert path only): when set, records no rule can match are
   * counted and dropped before JSON.parse. Set it only when every subscriber
   * of the bus is the rule engine (Loki gets every record from `tap`).
   */
  gate: RawLineGate | undefined;
  /** Sees every record as received, before the gate (Loki forwarding decodes on its own thread). */
  tap: RecordTap | undefined;

  constructor(
    private readonly decoder: TalosDecoder,
    private readonly bus: EventBus,
    logger: Logger,
    registry?: Registry,
  ) {
    this.badLog = new RateLimitedLog(logger);
    if (registry !== undefined) this.registerMetrics(registry);
  }

  record(text: string, peer: string, proto: Proto, receivedMs: number): void {
    this.tap?.record(text, peer, proto, receivedMs);
    if (this.gate !== undefined && this.gate.skip(text, peer, receivedMs)) {
      this.accepted++;
      return;
    }
    const ev = this.decoder.decode(text, peer, receivedMs);
    if (typeof ev === 'string') {
      this.reject(ev, peer, proto);
      return;
    }
    this.accepted++;
    let c = this.perStream.get(ev.stream);
    if (c === undefined) {
      const host = ev.stream.labels.host ?? peer;
      // Past the bound (a sender inventing label values), count by host and stream only:
      // the metric has just those labels, and memory must not grow with label sets.
      c = this.perStream.size < MAX_TRACKED_STREAMS ? { host, stream: ev.source, n: 0 } : this.overflowCount(host, ev.source);
      if (this.perStream.size < MAX_TRACKED_STREAMS) this.perStream.set(ev.stream, c);
    }
    c.n++;
    this.bus.publish(ev);
  }

  reject(reason: RejectReason, peer: string, proto: Proto): void {
    this.rejects.set(reason, (this.rejects.get(reason) ?? 0) + 1);
    this.badLog.warn(reason, { peer, proto }, 'dropped a record');
  }

  bytes(n: number, proto: Proto): void {
    this.bytesIn[proto] += n;
  }

  private overflowCount(host: string, stream: string): StreamCount {
    const key = `${host}\u0000${stream}`;
    let c = this.overflow.get(key);
    if (c === undefined) {
      c = { host, stream, n: 0 };
      this.overflow.set(key, c);
    }
    return c;
  }

  rejected(reason: RejectReason): number {
    return this.rejects.get(reason) ?? 0;
  }

  /** Lines received per host and stream (kernel|service), for tests and the demo. */
  linesByHost(): Map<string, number> {
    const out = new Map<string, number>();
    for (const c of this.streamCounts()) out.set(`${c.host}/${c.stream}`, (out.get(`${c.host}/${c.stream}`) ?? 0) + c.n);
    return out;
  }

  private streamCounts(): Array<{ host: string; stream: string; n: number }> {
    return [...this.perStream.values(), ...this.overflow.values(), ...(this.gate?.skippedByStream() ?? [])];
  }

  private registerMetrics(registry: Registry): void {
    const streams = () => this.streamCounts();
    new TotalsCounter(registry, {
      name: `${METRIC_PREFIX}lines_received_total`,
      help: 'Talos records decoded into log events, by sender and stream (kernel or service).',
      labelNames: ['host', 'stream'],
      totals: () => streams().map((c) => [{ host: c.host, stream: c.stream }, c.n] as const),
    });
    new TotalsCounter(registry, {
      name: `${METRIC_PREFIX}bytes_received_total`,
      help: 'Bytes read from ingest sockets, framing included.',
      labelNames: ['proto'],
      totals: () => (['tcp', 'udp'] as const).map((proto) => [{ proto }, this.bytesIn[proto]] as const),
    });
    new TotalsCounter(registry, {
      name: `${METRIC_PREFIX}decode_errors_total`,
      help: 'Records dropped before becoming log events, by reason.',
      labelNames: ['reason'],
      totals: () => [...this.rejects].map(([reason, n]) => [{ reason }, n] as const),
    });
    new TotalsCounter(registry, {
      name: `${METRIC_PREFIX}timestamp_fallbacks_total`,
      help: 'Records whose talos-time was missing, invalid or too far in the future, so receive time was used.',
      labelNames: ['reason'],
      totals: () => Object.entries(this.decoder.timeFallbacks).map(([reason, n]) => [{ reason }, n] as const),
    });
  }
}
