/**
 * The sidecar's real /metrics after real Talos lines went through it: one
 * kernel record over TCP that the chart's BTRFS rule fires on, one service
 * record over UDP, delivered to Debian's Alertmanager and to the project's Loki
 * stand-in. Used by the dashboard and PrometheusRule tests to check that every
 * metric (and label) they query exists.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { defaultConfig, validate } from '../../src/config/schema.js';
import { CHART_DIR } from '../helpers/helm.js';
import { startAlertmanager } from '../helpers/alertmanager.js';
import { startLokiReceiver } from '../helpers/loki-receiver.js';

export interface Exposition {
  text: string;
  /** Series names a query may select (histogram families expanded to _bucket, _sum, _count). */
  names: Set<string>;
  /** Metric family → its TYPE. */
  families: Map<string, string>;
  /** Series name → label names seen on it. */
  labels: Map<string, Set<string>>;
}

export function parseExposition(text: string): Exposition {
  const names = new Set<string>();
  const families = new Map<string, string>();
  const labels = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      const [, name, kind] = type;
      families.set(name!, kind!);
      if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name! + s);
      else if (kind === 'summary') for (const s of ['', '_sum', '_count']) names.add(name! + s);
      else names.add(name!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!sample) continue;
    const set = labels.get(sample[1]!) ?? new Set<string>();
    for (const l of (sample[2] ?? '').matchAll(/([a-zA-Z_]\w*)="/g)) set.add(l[1]!);
    labels.set(sample[1]!, set);
  }
  return { text, names, families, labels };
}

/** The family a selected series name belongs to (`x_bucket` of histogram `x` → `x`). */
export function familyOf(name: string, exp: Exposition): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const base = name.slice(0, -suffix.length);
      const kind = exp.families.get(base);
      if (kind === 'histogram' || kind === 'summary') return base;
    }
  }
  return name;
}

/** Start the sidecar in process, push traffic through every stage, scrape /metrics. */
export async function scrapeLiveSidecar(): Promise<Exposition> {
  // Loaded here, not at the top, so structural checks run even while app.ts changes.
  const { startSidecar } = await import('../../src/app.js');
  const work = mkdtempSync(join(tmpdir(), 'tas-live-metrics-'));
  const am = await startAlertmanager();
  const loki = await startLokiReceiver();
  try {
    // The chart's rules, in the tenant layout the chart mounts them in.
    mkdirSync(join(work, 'rules/fake'), { recursive: true });
    writeFileSync(join(work, 'rules/fake/talos-kernel.yaml'), readFileSync(join(CHART_DIR, 'rules/talos-kernel.yaml')));
    const cfg = defaultConfig();
    cfg.ingest.listen = '127.0.0.1:0';
    cfg.http.listen = '127.0.0.1:0';
    cfg.rules.paths = [join(work, 'rules')];
    cfg.rules.watch = false;
    cfg.alertmanager.urls = [am.url];
    cfg.loki.url = loki.url;
    cfg.loki.batchWaitMs = 100;
    cfg.loki.spoolDir = join(work, 'spool');
    validate(cfg);
    const sidecar = await startSidecar(cfg, { logger: pino({ level: 'silent' }) });
    try {
      const now = new Date().toISOString();
      const kernel = { clock: 1, facility: 'kern', msg: 'BTRFS error (device sdb state EA): parent transid verify failed on logical 1 mirror 1 wanted 2 found 1\n', priority: 'err', seq: 1, 'talos-level': 'error', 'talos-time': now };
      const service = { msg: 'finished scheduled compaction', 'talos-level': 'info', 'talos-service': 'etcd', 'talos-time': now };
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(sidecar.ingest.tcpPort, '127.0.0.1', () => s.end(`${JSON.stringify(kernel)}\n`, () => resolve()));
        s.once('error', reject);
      });
      const udp = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => udp.send(JSON.stringify(service), sidecar.ingest.udpPort, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
      udp.close();

      // Poll /metrics (bounded) until both records are counted, the alert fired and reached
      // Alertmanager, and Loki took the lines.
      const total = (text: string, name: string): number =>
        [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
      const deadline = Date.now() + 15_000;
      for (;;) {
        const text = await (await fetch(`http://127.0.0.1:${sidecar.httpPort}/metrics`)).text();
        if (
          total(text, 'talos_alert_sidecar_lines_received_total') >= 2 &&
          /^talos_alert_sidecar_alerts\{[^}]*state="firing"[^}]*\} 1$/m.test(text) &&
          total(text, 'talos_alert_sidecar_alertmanager_alerts_sent_total') >= 1 &&
          total(text, 'talos_alert_sidecar_loki_lines_sent_total') >= 2
        ) {
          return parseExposition(text);
        }
        if (Date.now() > deadline) throw new Error(`records not through the pipeline within 15 s:\n${text}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await sidecar.close();
    }
  } finally {
    await Promise.all([am.stop(), loki.close()]);
    rmSync(work, { recursive: true, force: true });
  }
}

const KEYWORDS = new Set([
  'sum', 'avg', 'min', 'max', 'count', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan',
]);

/** Metric names a PromQL expression selects (strings, matchers, ranges and grouping lists removed first). */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = bare.slice(m.index! + m[0].length);
    if (/^\s*\(/.test(after)) continue; // function or aggregation
    if (KEYWORDS.has(m[0])) continue;
    names.add(m[0]);
  }
  return [...names];
}

