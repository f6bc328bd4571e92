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
    // Two gauges, not a `quantile` label: that label is reserved for summaries.
    let max = 0;
    new Gauge({
      name: `${METRIC_PREFIX}event_loop_lag_seconds`,
      help: 'Event-loop delay, 99th percentile since the last scrape.',
      registers: [registry],
      collect() {
        this.set(h.percentile(99) / 1e9);
        max = h.max / 1e9;
        h.reset();
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}event_loop_lag_max_seconds`,
      help: 'Event-loop delay, maximum since the previous scrape.',
      registers: [registry],
      collect() {
        this.set(max);
      },
    });
  }

  stop(): void {
    this.histogram.disable();
  }
}
