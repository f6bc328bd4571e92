/**
 * The Loki side of the two threads: decodes the raw records the ingest
 * thread hands over (for storage: labels and structured metadata as Loki
 * gets them), and feeds them to the LokiPusher, which writes them to the
 * write-ahead log, batches, encodes, compresses, pushes and retries. Runs in
 * a worker thread (worker-main.ts) in the product; tests may bind it to a
 * MessageChannel in their own thread (same messages, same transfers).
 */
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { getHeapStatistics } from 'node:v8';
import { Gauge, Registry } from 'prom-client';
import { METRIC_PREFIX } from '../../../metrics/registry.js';
import { TalosDecoder } from '../../../talos/decode.js';
import { LokiPusher } from '../pusher.js';
import type { FromHost, HostConfig, MetricJson, ToHost } from './protocol.js';
import { readRecordFrame } from './record-frame.js';

/** The port the host talks on: a worker's parentPort or one end of a MessageChannel. */
export type HostPort = Pick<MessagePort, 'postMessage' | 'on' | 'off'>;

export class LokiHost {
  private readonly registry = new Registry();
  private readonly decoder: TalosDecoder;
  private readonly pusher: LokiPusher;

  constructor(
    cfg: HostConfig,
    private readonly port: HostPort,
    logger: Logger,
  ) {
    this.decoder = new TalosDecoder({ ...cfg.talos, metadata: true });
    this.pusher = new LokiPusher(cfg.loki, { registry: this.registry, logger });
    // The ingest thread's process metrics do not see this thread's V8 heap.
    new Gauge({
      name: `${METRIC_PREFIX}loki_thread_heap_bytes`,
      help: "The Loki thread's V8 heap: `used`, and `total` (what it holds from the system).",
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        const h = getHeapStatistics();
        this.set({ kind: 'used' }, h.used_heap_size);
        this.set({ kind: 'total' }, h.total_heap_size);
      },
    });
    port.on('message', this.onMessage);
  }

  /**
   * Messages are handled one per event-loop turn, in order: a worker's port
   * delivers a whole backlog of frames in one go, and handling them all
   * there would keep the pushes' socket I/O (and so Loki's answers) waiting
   * behind seconds of decoding.
   */
  private readonly inbox: ToHost[] = [];
  private inboxHead = 0;
  private draining = false;

  private readonly onMessage = (m: ToHost): void => {
    this.inbox.push(m);
    if (!this.draining) {
      this.draining = true;
      setImmediate(this.drainOne);
    }
  };

  private readonly drainOne = (): void => {
    const m = this.inbox[this.inboxHead]!;
    this.inbox[this.inboxHead++] = undefined as unknown as ToHost;
    if (this.inboxHead === this.inbox.length) {
      this.inbox.length = 0;
      this.inboxHead = 0;
    } else if (this.inboxHead > 1024 && this.inboxHead * 2 > this.inbox.length) {
      this.inbox.splice(0, this.inboxHead);
      this.inboxHead = 0;
    }
    try {
      this.handle(m);
    } finally {
      if (this.inboxHead < this.inbox.length) setImmediate(this.drainOne);
      else this.draining = false;
    }
  };

  private handle(m: ToHost): void {
    switch (m.t) {
      case 'frame':
        this.frame(m.buf, m.len);
        break;
      case 'metrics':
        void this.metrics().then((metrics) => this.post({ t: 'metrics', id: m.id, metrics }));
        break;
      case 'start':
        this.pusher.start().then(
          async () => this.post({ t: 'started', metrics: await this.metrics() }),
          (e: unknown) => this.post({ t: 'start_error', message: (e as Error).message }),
        );
        break;
      case 'stop':
        void this.pusher
          .stop({ timeoutMs: m.timeoutMs })
          .then(() => this.metrics())
          .then((metrics) => {
            this.port.off('message', this.onMessage);
            this.post({ t: 'stopped', metrics });
          });
        break;
    }
  }

  /** Decode every record (those the decoder refuses were counted by the ingest thread) and hand it on. */
  private frame(buf: ArrayBuffer, len: number): void {
    const decoder = this.decoder;
    const pusher = this.pusher;
    const records = readRecordFrame(buf, len, (text, peer, _proto, receivedMs) => {
      const ev = decoder.decode(text, peer, receivedMs);
      if (typeof ev !== 'string') pusher.handle(ev);
    });
    this.post({ t: 'done', len, records });
  }

  private async metrics(): Promise<MetricJson[]> {
    return (await this.registry.getMetricsAsJSON()) as unknown as MetricJson[];
  }

  private post(m: FromHost): void {
    this.port.postMessage(m);
  }
}
