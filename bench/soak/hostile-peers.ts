/**
 * Hostile ingest peers, as a forked child process: idle connections that hold
 * slots, slowloris (a byte now and then, never a newline), rapid one-byte
 * writes, megabyte lines, garbage lines, connections from outside the
 * allowlist, and a UDP flood. A separate process so that the sidecar's
 * memory and event loop are measured on their own, and the attack runs on
 * the other core as a real one would. Loopback only; every loop is bounded in
 * count and time.
 *
 * Protocol (IPC): parent sends `start` → child opens the idle connections and
 * answers `idle`; parent sends `go` → child attacks for `durationMs` and
 * answers `done` with what it sent; parent sends `exit` → child closes
 * everything and exits.
 *
 * Every TCP kind is built so the sidecar's outcome is exact: random bytes
 * start with 0xff and carry no LF (one `invalid_utf8` each), non-JSON lines
 * start with `x` (one `invalid_json`), trickled bytes stay under the line
 * limit and never see a LF (one `fragment` per connection when it closes).
 */
import dgram from 'node:dgram';
import net from 'node:net';

export interface HostileConfig {
  port: number;
  /** Connections opened first and then left silent. */
  idle: number;
  /** Connections from `outsiderAddress` (not in the allowlist). */
  outsiders: number;
  outsiderAddress: string;
  /** One byte every `slowlorisIntervalMs`, never a newline. */
  slowloris: number;
  slowlorisIntervalMs: number;
  /** Connections getting one-byte writes round-robin, `trickleBytes` each, never a newline. */
  trickle: number;
  trickleBytes: number;
  /** Each sends `oversizedLines` lines of `oversizedBytes` bytes, LF-terminated. */
  oversized: number;
  oversizedLines: number;
  oversizedBytes: number;
  /** Each sends `garbageLines` of each garbage kind, then a few heavy-but-valid kernel records. */
  garbage: number;
  garbageLines: number;
  heavyLines: number;
  /** Datagrams in the UDP flood (a third arrays, a third objects without msg, a third valid service records). */
  udpDatagrams: number;
  /** How long slowloris and trickle keep going (and the UDP flood at most). */
  durationMs: number;
}

export type HostileCmd = { cmd: 'start'; config: HostileConfig } | { cmd: 'go' } | { cmd: 'exit' };

export interface HostileReport {
  idleOpened: number;
  /** Idle connections the sidecar closed (to make room for newcomers). */
  idleClosedByPeer: number;
  outsidersRefused: number;
  slowlorisBytes: number;
  trickleBytes: number;
  /** Trickle/slowloris connections the sidecar closed before we did. */
  partialClosedByPeer: number;
  oversizedBytes: number;
  /** Per garbage connection that finished its writes. */
  garbageConnectionsDone: number;
  /** Lines sent, by the rejection reason (or outcome) they must produce. */
  expect: { invalid_utf8: number; invalid_json: number; empty: number; too_long: number; fragment: number; not_allowed: number; heavyAccepted: number };
  udp: { sent: number; notObject: number; missingMsg: number; valid: number; bytes: number };
  elapsedMs: number;
}

export type HostileEv = { ev: 'idle'; opened: number } | { ev: 'done'; report: HostileReport } | { ev: 'error'; message: string };

const HOST = '127.0.0.1';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function connect(port: number, localAddress?: string, timeoutMs = 5000): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const s = net.connect({ host: HOST, port, ...(localAddress !== undefined ? { localAddress } : {}) });
    s.setNoDelay(true);
    const t = setTimeout(() => {
      s.destroy();
      resolve(undefined);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(undefined);
    });
    s.on('error', () => undefined);
  });
}

/** Resolve when the socket has been closed (by either side) or after `ms`. */
function closed(s: net.Socket, ms: number): Promise<void> {
  if (s.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** Write with backpressure; false when the socket died. Bounded by `deadline`. */
async function write(s: net.Socket, data: string | Buffer, deadline: number): Promise<boolean> {
  if (s.destroyed) return false;
  if (s.write(data)) return true;
  while (s.writableNeedDrain && !s.destroyed && Date.now() < deadline) {
    await Promise.race([new Promise((r) => s.once('drain', r)), closed(s, 200)]);
  }
  return !s.destroyed;
}

function randomGarbage(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    const v = (Math.random() * 256) | 0;
    b[i] = v === 0x0a ? 0x0b : v;
  }
  b[0] = 0xff; // never valid UTF-8, whatever follows
  return b;
}

function kernelRecord(msg: string): string {
  return JSON.stringify({ clock: 1, facility: 'kern', msg: `${msg}\n`, priority: 'info', seq: 1, 'talos-level': 'info', 'talos-time': new Date().toISOString() });
}

export async function runHostile(cfg: HostileConfig, waitForGo: () => Promise<void>, onIdle: (opened: number) => void): Promise<HostileReport> {
  const report: HostileReport = {
    idleOpened: 0,
    idleClosedByPeer: 0,
    outsidersRefused: 0,
    slowlorisBytes: 0,
    trickleBytes: 0,
    partialClosedByPeer: 0,
    oversizedBytes: 0,
    garbageConnectionsDone: 0,
    expect: { invalid_utf8: 0, invalid_json: 0, empty: 0, too_long: 0, fragment: 0, not_allowed: 0, heavyAccepted: 0 },
    udp: { sent: 0, notObject: 0, missingMsg: 0, valid: 0, bytes: 0 },
    elapsedMs: 0,
  };
  const all: net.Socket[] = [];

  // 1. Idle connections, in batches so the listen backlog is not overrun.
  let closingIdle = false;
  for (let i = 0; i < cfg.idle; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, cfg.idle - i) }, () => connect(cfg.port)));
    for (const s of batch) {
      if (s === undefined) continue;
      report.idleOpened++;
      all.push(s);
      s.on('close', () => {
        if (!closingIdle) report.idleClosedByPeer++;
      });
    }
  }
  onIdle(report.idleOpened);
  await waitForGo();

  const t0 = Date.now();
  const deadline = t0 + cfg.durationMs + 20_000;
  const attacks: Promise<void>[] = [];
  let partialsDone = false;

  // 2. Outsiders: accepted by the kernel, refused (closed) by the sidecar.
  attacks.push(
    (async () => {
      for (let i = 0; i < cfg.outsiders; i++) {
        const s = await connect(cfg.port, cfg.outsiderAddress);
        if (s === undefined) continue;
        report.expect.not_allowed++;
        await closed(s, 3000);
        if (s.destroyed) report.outsidersRefused++;
        s.destroy();
      }
    })(),
  );

  // 3. Slowloris and rapid trickle: bytes without a newline, closed by us at the end (→ one fragment each).
  const stopAt = t0 + cfg.durationMs;
  const partials: Array<{ s: net.Socket; sent: number; peerClosed: boolean }> = [];
  const openPartial = async (): Promise<{ s: net.Socket; sent: number; peerClosed: boolean } | undefined> => {
    const s = await connect(cfg.port);
    if (s === undefined) return undefined;
    all.push(s);
    const p = { s, sent: 0, peerClosed: false };
    s.on('close', () => {
      if (!partialsDone) p.peerClosed = true;
    });
    partials.push(p);
    return p;
  };
  for (let i = 0; i < cfg.slowloris; i++) {
    attacks.push(
      (async () => {
        const p = await openPartial();
        if (p === undefined) return;
        while (Date.now() < stopAt && !p.s.destroyed) {
          p.s.write('a');
          p.sent++;
          report.slowlorisBytes++;
          await sleep(cfg.slowlorisIntervalMs);
        }
      })(),
    );
  }
  attacks.push(
    (async () => {
      const ps = (await Promise.all(Array.from({ length: cfg.trickle }, () => openPartial()))).filter((p) => p !== undefined);
      const one = Buffer.from('b');
      // Round-robin one byte per connection per turn of the loop, so bytes leave as separate segments;
      // how many the sidecar reads one by one rather than coalesced depends on how busy it is.
      for (let round = 0; round < cfg.trickleBytes && Date.now() < stopAt; round++) {
        for (const p of ps) {
          if (p.s.destroyed) continue;
          p.s.write(one);
          p.sent++;
          report.trickleBytes++;
        }
        await new Promise((r) => setImmediate(r));
      }
      // Hold the partial lines until the end of the attack, like a slowloris.
      while (Date.now() < stopAt) await sleep(50);
    })(),
  );

  // 4. Oversized lines: megabytes without a newline, then the newline (→ one too_long per line).
  const block = Buffer.alloc(64 * 1024, 0x7b);
  for (let i = 0; i < cfg.oversized; i++) {
    attacks.push(
      (async () => {
        const s = await connect(cfg.port);
        if (s === undefined) return;
        all.push(s);
        for (let l = 0; l < cfg.oversizedLines; l++) {
          let n = 0;
          while (n < cfg.oversizedBytes && Date.now() < deadline) {
            const piece = Math.min(block.length, cfg.oversizedBytes - n);
            if (!(await write(s, piece === block.length ? block : block.subarray(0, piece), deadline))) return;
            n += piece;
            report.oversizedBytes += piece;
          }
          if (!(await write(s, '\n', deadline))) return;
          report.expect.too_long++;
        }
        s.end();
        await closed(s, 5000);
      })(),
    );
  }

  // 5. Garbage lines, then heavy but valid records (240 KB messages the rules' regexes must scan).
  const heavy = `${kernelRecord('iscsi '.repeat(40_000))}\n`;
  for (let i = 0; i < cfg.garbage; i++) {
    attacks.push(
      (async () => {
        const s = await connect(cfg.port);
        if (s === undefined) return;
        all.push(s);
        const want = { invalid_utf8: 0, invalid_json: 0, empty: 0, heavy: 0 };
        for (let l = 0; l < cfg.garbageLines; l++) {
          const parts: Buffer[] = [randomGarbage(1 + ((Math.random() * 400) | 0)), Buffer.from('\n')];
          parts.push(Buffer.from(`x${'not json {"msg":'.repeat(1 + (l % 5))}\n`));
          parts.push(Buffer.from(l % 2 === 0 ? '\n' : '\r\n'));
          if (!(await write(s, Buffer.concat(parts), deadline))) return;
          want.invalid_utf8++;
          want.invalid_json++;
          want.empty++;
        }
        for (let h = 0; h < cfg.heavyLines; h++) {
          if (!(await write(s, heavy, deadline))) return;
          want.heavy++;
        }
        s.end();
        await closed(s, 5000);
        report.expect.invalid_utf8 += want.invalid_utf8;
        report.expect.invalid_json += want.invalid_json;
        report.expect.empty += want.empty;
        report.expect.heavyAccepted += want.heavy;
        report.garbageConnectionsDone++;
      })(),
    );
  }

  // 6. UDP flood, paced only by the socket's send queue; bounded in count and time.
  attacks.push(
    (async () => {
      const sock = dgram.createSocket('udp4');
      sock.on('error', () => undefined);
      await new Promise<void>((r) => sock.connect(cfg.port, HOST, () => r()));
      const arr = Buffer.from('[1,2,3,{"msg":"not an object"}]');
      const noMsg = Buffer.from(JSON.stringify({ 'talos-level': 'info', 'talos-service': 'flood', 'talos-time': new Date().toISOString(), text: 'no msg field' }));
      const valid = (n: number): Buffer =>
        Buffer.from(JSON.stringify({ msg: n % 50 === 0 ? 'y'.repeat(60_000) : `flood ${n}`, 'talos-level': 'info', 'talos-service': 'flood', 'talos-time': new Date().toISOString() }));
      const stopAt = t0 + cfg.durationMs;
      let inFlight = 0;
      for (let n = 0; n < cfg.udpDatagrams && Date.now() < stopAt; n++) {
        const kind = n % 3;
        const msg = kind === 0 ? arr : kind === 1 ? noMsg : valid(n);
        inFlight++;
        sock.send(msg, () => inFlight--);
        report.udp.sent++;
        report.udp.bytes += msg.length;
        if (kind === 0) report.udp.notObject++;
        else if (kind === 1) report.udp.missingMsg++;
        else report.udp.valid++;
        if (n % 200 === 199) {
          const until = Date.now() + 1000;
          while (inFlight > 100 && Date.now() < until) await new Promise((r) => setImmediate(r));
        }
      }
      const until = Date.now() + 2000;
      while (inFlight > 0 && Date.now() < until) await sleep(5);
      sock.close();
    })(),
  );

  await Promise.all(attacks);
  partialsDone = true;
  for (const p of partials) {
    if (p.peerClosed) report.partialClosedByPeer++;
    else if (p.sent > 0) report.expect.fragment++;
  }
  // Close the partial-line connections now: the sidecar counts each buffered fragment.
  for (const s of all) if (!s.destroyed && s.bytesWritten > 0) s.destroy();
  report.elapsedMs = Date.now() - t0;
  closingIdle = true;
  return report;
}

// Forked: drive runHostile over IPC.
if (process.send !== undefined) {
  const send = (ev: HostileEv): void => void process.send!(ev);
  let go: () => void = () => undefined;
  const goSignal = new Promise<void>((r) => (go = r));
  process.on('message', (m: HostileCmd) => {
    if (m.cmd === 'start') {
      runHostile(m.config, () => goSignal, (opened) => send({ ev: 'idle', opened })).then(
        (report) => send({ ev: 'done', report }),
        (err: unknown) => send({ ev: 'error', message: (err as Error).stack ?? String(err) }),
      );
    } else if (m.cmd === 'go') {
      go();
    } else {
      process.exit(0);
    }
  });
  // Never outlive the parent.
  process.on('disconnect', () => process.exit(0));
}
