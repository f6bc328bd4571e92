/**
 * `demo`: the sidecar on embedded defaults (the shipped rules, no Alertmanager,
 * no Loki) fed by the built-in Talos traffic generator over loopback, so a
 * newcomer sees lines flow and the BTRFS alert fire. Bounded in time.
 */
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { defaultConfig } from '../config/schema.js';
import { startSidecar } from '../app.js';
import { sendTalosTraffic } from '../traffic/index.js';
import { booleanFlag, stringFlag, UsageError, type CommandArgs } from './args.js';

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export async function demoCommand(args: CommandArgs): Promise<number> {
  const seconds = Number(stringFlag(args, 'duration') ?? '15');
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new UsageError('flag --duration: expected seconds between 1 and 3600');
  const cfg = defaultConfig();
  cfg.ingest.listen = `127.0.0.1:${(await portFree(6000)) ? 6000 : 0}`;
  cfg.http.listen = `127.0.0.1:${(await portFree(8080)) ? 8080 : 0}`;
  cfg.rules.paths = [fileURLToPath(new URL('../../rules/talos-kernel.yaml', import.meta.url))];
  cfg.rules.watch = false;
  cfg.log.format = booleanFlag(args, 'json') ? 'json' : 'pretty';
  cfg.log.level = 'info';
  const sidecar = await startSidecar(cfg);
  const out = process.stdout;
  out.write(`\nDemo: Talos json_lines on tcp+udp 127.0.0.1:${sidecar.ingest.tcpPort}, metrics and API on http://127.0.0.1:${sidecar.httpPort}\n`);
  out.write(`Rules: ${cfg.rules.paths.join(', ')} (${sidecar.engine.loadedRules().length} rules). No Alertmanager configured: alerts are logged.\n`);
  out.write(`Generating 3 nodes × kernel+service streams for ${seconds}s; a BTRFS "parent transid verify failed" line at 3s, iSCSI errors at 5s.\n\n`);

  const started = Date.now();
  const progress = setInterval(() => {
    const byHost = sidecar.pipeline.linesByHost();
    const total = [...byHost.values()].reduce((a, b) => a + b, 0);
    const alerts = sidecar.engine.alerts().map(({ alert }) => `${alert.labels.alertname}=${alert.state}`);
    out.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)}s] lines received: ${total}  alerts: ${alerts.length ? alerts.join(', ') : 'none'}\n`);
  }, 1000);

  const result = await sendTalosTraffic(
    { host: '127.0.0.1', port: sidecar.ingest.tcpPort, proto: 'tcp' },
    {
      nodes: 3,
      ratePerSec: 1500,
      durationMs: seconds * 1000,
      seed: 42,
      // Event time = now: the windows are keyed by event time, so old stamps would not alert.
      startTimeMs: Date.now(),
      failures: [
        { atMs: 3000, kind: 'btrfs-transid', node: 1 },
        { atMs: 5000, kind: 'iscsi-error', node: 2 },
      ],
    },
  );
  clearInterval(progress);
  await new Promise((r) => setTimeout(r, 200));
  out.write(`\nSent ${result.sent} Talos records. Try: curl -s http://127.0.0.1:${sidecar.httpPort}/api/v1/alerts ; curl -s http://127.0.0.1:${sidecar.httpPort}/metrics | grep rule_matches\n`);
  const firing = sidecar.engine.alerts().filter(({ alert }) => alert.state === 'firing');
  for (const { alert } of firing) out.write(`FIRING ${alert.labels.alertname} ${JSON.stringify(alert.labels)} value=${alert.value}\n`);
  await sidecar.close();
  return firing.length > 0 ? 0 : 1;
}
