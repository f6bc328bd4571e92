/**
 * Child process for the latency benchmark. Two jobs, one clock:
 *
 * - a timestamping proxy on 127.0.0.1 in front of the real Alertmanager: the
 *   sidecar posts alerts here, the proxy forwards each POST and notes when
 *   Alertmanager answered 200, i.e. holds the alert;
 * - failure writers: one TCP connection per probe, each from its own
 *   127.20.x.y address (so its `host` label, and with a `sum by (host)` rule
 *   its alert, is new), writing one BTRFS "parent transid verify failed"
 *   kernel record and noting the time just before the write.
 *
 * Both timestamps come from process.hrtime in this process, so latency is
 * write → Alertmanager holds the alert, with no cross-process clock. The
 * process is otherwise idle, so its own event loop adds little.
 */
import http from 'node:http';
import net from 'node:net';
import { connectFrom } from './lib/connect-from.js';
import { formatKernelRecord } from '../src/traffic/index.js';
import { childChannel } from './lib/forked-child.js';
import { nowMs } from './clock.js';

export type ProbeCmd =
  | { cmd: 'proxy'; alertmanagerUrl: string }
  | { cmd: 'connect'; port: number; count: number }
  /** The first `warmup` probes warm the path (first alert, first connection to Alertmanager) and are reported apart. */
  | { cmd: 'fire'; intervalMs: number; waitMs: number; warmup: number };

export type ProbeEv =
  | { ev: 'proxy'; url: string }
  | { ev: 'connected'; count: number }
  | {
      ev: 'result';
      /** Measured probes, in order (times in ms on process.hrtime's clock; 0: never happened). */
      samples: ProbeSample[];
      /** The warm-up probes, in order. */
      warmup: ProbeSample[];
      posts: number;
      nonOk: number;
    };

export interface ProbeSample {
  /** The probe's source address: the alert's `host` label. */
  host: string;
  /** Just before the failure record was written on the socket. */
  wroteAt: number;
  /** The alert POST carrying it was fully received by the proxy. */
  postAt: number;
  /** Alertmanager answered 200 to that POST: it holds the alert. */
  heldAt: number;
}

const ALERTNAME = 'BTRFSCorruptionDetected';


interface Probe {
  host: string;
  sock: net.Socket;
  wroteAt: number;
  postAt: number;
  heldAt: number;
}

const probes = new Map<string, Probe>();
let posts = 0;
let nonOk = 0;

function probeAddress(k: number): string {
  return `127.20.${Math.floor(k / 250)}.${(k % 250) + 1}`;
}

function startProxy(target: URL): Promise<string> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = nowMs();
      const body = Buffer.concat(chunks);
      posts++;
      const mine: Probe[] = [];
      try {
        for (const a of JSON.parse(body.toString('utf8')) as Array<{ labels?: Record<string, string> }>) {
          const p = a.labels?.alertname === ALERTNAME ? probes.get(a.labels.host ?? '') : undefined;
          if (p !== undefined && p.wroteAt > 0 && p.postAt === 0) {
            p.postAt = at;
            mine.push(p);
          }
        }
      } catch {
        // not an alert list: forwarded as is
      }
      const fwd = http.request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { 'content-type': 'application/json', 'content-length': body.length }, agent },
        (amRes) => {
          const out: Buffer[] = [];
          amRes.on('data', (c: Buffer) => out.push(c));
          amRes.on('end', () => {
            const held = nowMs();
            const status = amRes.statusCode ?? 502;
            if (status === 200) for (const p of mine) p.heldAt = held;
            else nonOk++;
            res.writeHead(status, { 'content-type': 'application/json' }).end(Buffer.concat(out));
          });
        },
      );
      fwd.on('error', () => {
        nonOk++;
        res.writeHead(502).end();
      });
      fwd.end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`)));
}

function failureRecord(k: number): string {
  const t = Date.now();
  return (
    formatKernelRecord({
      clock: 912_873_321 + k,
      facility: 'kern',
      priority: 'err',
      seq: 50_000 + k,
      text: `BTRFS error (device sdb state EA): parent transid verify failed on logical ${30_408_704 + k * 16_384} mirror 1 wanted ${1234 + k} found ${1230 + k}`,
      timeMs: t,
      timeNsRem: 0,
    }) + '\n'
  );
}

const emit = childChannel<ProbeCmd, ProbeEv>(async (cmd) => {
  switch (cmd.cmd) {
    case 'proxy':
      emit({ ev: 'proxy', url: await startProxy(new URL(cmd.alertmanagerUrl)) });
      return;
    case 'connect':
      for (let k = 0; k < cmd.count; k++) {
        const host = probeAddress(k);
        const sock = await connectFrom(cmd.port, host);
        sock.on('error', () => {});
        probes.set(host, { host, sock, wroteAt: 0, postAt: 0, heldAt: 0 });
      }
      emit({ ev: 'connected', count: probes.size });
      return;
    case 'fire': {
      let k = 0;
      for (const p of probes.values()) {
        const line = failureRecord(k++);
        p.wroteAt = nowMs();
        p.sock.write(line);
        await new Promise((r) => setTimeout(r, cmd.intervalMs));
      }
      const deadline = Date.now() + cmd.waitMs;
      while (Date.now() < deadline && [...probes.values()].some((p) => p.heldAt === 0)) await new Promise((r) => setTimeout(r, 20));
      const all = [...probes.values()].map((p): ProbeSample => ({ host: p.host, wroteAt: p.wroteAt, postAt: p.postAt, heldAt: p.heldAt }));
      emit({ ev: 'result', samples: all.slice(cmd.warmup), warmup: all.slice(0, cmd.warmup), posts, nonOk });
      for (const p of probes.values()) p.sock.destroy();
      return;
    }
  }
});
