/**
 * Event-loop lag as a gauge: the ingest path is synchronous, so lag is the
 * first sign that the sidecar cannot keep up (and that sockets back up).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX } from './registry.js';

export class EventLoopLag {
  private readonly histogram: IntervalHistogram;

  constructor(registry: Registry) {
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    this.histogram = h;
    new Gauge({
      name: `${METRIC_PREFIX}event_loop_lag_seconds`,
      help: 'Event-loop delay since the last scrape (p99 and max).',
      labelNames: ['quantile'],
      registers: [registry],
      collect() {
        this.set({ quantile: '0.99' }, h.percentile(99) / 1e9);
        this.set({ quantile: '1' }, h.max / 1e9);
        h.reset();
      },
    });
  }

  stop(): void {
    this.histogram.disable();
  }
}
