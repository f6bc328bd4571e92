/** Fixtures for the Loki pusher's tests: realistic Talos LogEvents, a fast test config, metric reads. */
import { pino } from 'pino';
import { expect } from 'vitest';
import type { Registry } from 'prom-client';
import { defaultConfig, type Config } from '../../src/config/schema.js';
import { eventTimeNsString, LabelSetCache, type LogEvent } from '../../src/log-event.js';
import type { ReceivedEntry } from './loki-receiver.js';

export const silentLogger = pino({ level: 'silent' });

/** Loki settings with test-sized waits and backoffs. */
export function lokiTestConfig(url: string, over: Partial<Config['loki']> = {}): Config['loki'] {
  return { ...defaultConfig().loki, url, batchWaitMs: 20, minBackoffMs: 10, maxBackoffMs: 40, timeoutMs: 2000, ...over };
}

/** Current value of one metric series (0 when absent). */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = registry.getSingleMetric(`talos_alert_sidecar_loki_${name}`);
  if (m === undefined) throw new Error(`no metric ${name}`);
  const data = await m.get();
  let sum = 0;
  for (const v of data.values) {
    if ('metricName' in v && typeof v.metricName === 'string' && v.metricName.endsWith('_bucket')) continue;
    const vl = v.labels as Record<string, string | number>;
    if (Object.entries(labels).every(([k, x]) => String(vl[k]) === x)) sum += v.value;
  }
  return sum;
}

const cache = new LabelSetCache();

const SERVICE_LINES = [
  '2025/08/27 12:01:03.645887 machined OK [/machine.MachineService/Processes] 18.366845ms unary Success',
  'Failed creating a mirror pod for: pods "kube-controller-manager-talos-dev-qemu-master-1" already exists',
  'finished scheduled compaction',
];
const KERNEL_LINES = [
  'BTRFS error (device sdb state EA): parent transid verify failed on logical 30408704 mirror 1 wanted 1234 found 1230',
  'NET: Registered protocol family 10',
  ' connection1:0: detected conn error (1020)\n KEY=value', // kernel dictionary line, and a leading space
  'ünïcödé — ✓ 日本語 \u{1F600} "quoted" \\ back\tslash',
];

export interface EventOptions {
  hosts?: number;
  /** Event time of the first event (ms); events are 1 ms apart with a sub-ms remainder. */
  startMs?: number;
  tag?: string;
}

/** `n` events over a few hosts and services; each line carries its index (`#<i>`) so tests can find it. */
export function makeEvents(n: number, opts: EventOptions = {}): LogEvent[] {
  const hosts = opts.hosts ?? 3;
  const start = opts.startMs ?? Date.UTC(2026, 1, 27, 3, 14, 7, 125);
  const out: LogEvent[] = [];
  for (let i = 0; i < n; i++) {
    const kernel = i % 2 === 0;
    const host = `10.0.0.${(i % hosts) + 5}`;
    const service = kernel ? 'kernel' : ['machined', 'kubelet', 'etcd'][i % 3]!;
    const lines = kernel ? KERNEL_LINES : SERVICE_LINES;
    const stream = cache.intern({ job: 'talos-kernel', host, talos_service: service, level: i % 5 === 0 ? 'error' : 'info' });
    out.push({
      timeMs: start + i,
      timeNsRem: (i * 7919) % 1_000_000,
      receivedMs: start + i,
      line: `${lines[i % lines.length]} ${opts.tag ?? ''}#${i}`,
      stream,
      metadata: kernel ? { facility: 'kern', priority: 'err', seq: String(10_000 + i) } : i % 3 === 0 ? undefined : { caller: 'kubelet/kubelet.go:1703' },
      source: kernel ? 'kernel' : 'service',
    });
  }
  return out;
}

/** Every event arrived exactly once with its labels, ns timestamp, line and metadata, and each stream in order. */
export function expectDeliveredOnce(events: LogEvent[], entries: ReceivedEntry[], withMetadata = true): void {
  expect(entries).toHaveLength(events.length);
  const byLine = new Map(entries.map((e) => [e.line, e]));
  expect(byLine.size).toBe(events.length);
  for (const ev of events) {
    const got = byLine.get(ev.line);
    expect(got, ev.line).toBeDefined();
    expect(got!.labels).toBe(ev.stream.key);
    expect(got!.tsNs).toBe(BigInt(eventTimeNsString(ev)).toString());
    expect(got!.metadata).toEqual(withMetadata ? (ev.metadata ?? {}) : {});
  }
  expectStreamOrder(entries);
}

/** Within each stream, entries arrived in the order they were handed in (the `#<i>` suffix). */
export function expectStreamOrder(entries: ReceivedEntry[]): void {
  const last = new Map<string, number>();
  for (const e of entries) {
    const i = Number(/#(\d+)$/.exec(e.line)![1]);
    expect(i, `${e.labels} ${e.line}`).toBeGreaterThan(last.get(e.labels) ?? -1);
    last.set(e.labels, i);
  }
}

/** Retry `check` (an assertion) until it passes or `timeoutMs` runs out; the last failure is thrown. */
export async function eventually(check: () => unknown, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
