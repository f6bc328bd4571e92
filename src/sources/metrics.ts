/** Connection metrics of the ingest sources, read from the TCP source when scraped. */
import { Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../metrics/registry.js';
import { TotalsCounter } from '../metrics/totals-counter.js';
import type { TcpSource } from './tcp.js';

/** Registers the connection gauges and counters; `tcp` is undefined when TCP ingest is off. */
export function registerSourceMetrics(registry: Registry, tcp: TcpSource | undefined): void {
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
}
