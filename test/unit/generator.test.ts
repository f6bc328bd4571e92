import dgram from 'node:dgram';
import net from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { goJsonEscape, goJsonMarshal, goJsonNumber, goJsonString, goKeyCompare, type GoJsonValue } from '../../src/talos/go-json.js';
import {
  DEFAULT_START_TIME_MS, FAILURE_KINDS, failureMessages, formatKernelRecord, formatServiceRecord, isServiceFailureMessage,
  nodeSourceAddress, records, sendTalosTraffic, type GeneratedRecord, type GeneratorOptions,
} from '../../src/traffic/index.js';
import { Rng } from '../../src/traffic/rng.js';
import { kernelPriorityLevel, type KernelPriority } from '../../src/talos/format.js';
import { addMicros, formatTalosTime, parseTalosTime } from '../../src/talos/time.js';

const TALOS_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{0,8}[1-9])?Z$/;
const KERNEL_KEYS = ['clock', 'facility', 'msg', 'priority', 'seq', 'talos-level', 'talos-time'];
const SERVICES = new Set(['kubelet', 'etcd', 'containerd', 'machined', 'apid', 'trustd', 'udevd', 'ext-iscsid']);

function collect(opts: GeneratorOptions): GeneratedRecord[] {
  return [...records(opts)];
}

/** Checks one line against the Talos wire format; returns the parsed object. */
function checkTalosLine(line: string, stream: 'kernel' | 'service'): Record<string, unknown> {
  const obj = JSON.parse(line) as Record<string, unknown>;
  // Byte-exact: re-marshalling the decoded map the Go way gives the same bytes (sorted keys, escaping, numbers).
  expect(goJsonMarshal(obj as Record<string, GoJsonValue>)).toBe(line);
  const keys = Object.keys(obj);
  expect([...keys].sort(goKeyCompare)).toEqual(keys);
  expect(line).not.toMatch(/[<>&\u2028\u2029]/);
  expect(line).not.toMatch(/[\u0000-\u001f]/);
  expect(obj['talos-time']).toMatch(TALOS_TIME);
  expect(['debug', 'info', 'warn', 'error']).toContain(obj['talos-level']);
  expect(typeof obj['msg']).toBe('string');
  if (stream === 'kernel') {
    expect(keys).toEqual(KERNEL_KEYS);
    expect(obj['msg']).toMatch(/\n$/);
    expect(Number.isSafeInteger(obj['clock'])).toBe(true);
    expect(Number.isSafeInteger(obj['seq'])).toBe(true);
    expect(obj['talos-level']).toBe(kernelPriorityLevel(obj['priority'] as KernelPriority));
  } else {
    expect(SERVICES.has(obj['talos-service'] as string)).toBe(true);
    expect(keys).not.toContain('facility');
    expect(keys).not.toContain('ts');
    expect(keys).not.toContain('level');
  }
  return obj;
}

describe('Go json.Marshal imitation', () => {
  it('escapes HTML characters, controls and separators exactly as Go does', () => {
    expect(goJsonString('a<b>&c')).toBe('"a\\u003cb\\u003e\\u0026c"');
    expect(goJsonString('q"\\')).toBe('"q\\"\\\\"');
    expect(goJsonString('\n\r\t\b\f\u0001\u001f')).toBe('"\\n\\r\\t\\b\\f\\u0001\\u001f"');
    expect(goJsonString('\u2028\u2029\u007f')).toBe('"\\u2028\\u2029\u007f"');
    expect(goJsonString('lone \ud800 surrogate, pair \ud83d\ude00')).toBe('"lone \\ufffd surrogate, pair \ud83d\ude00"');
    expect(goJsonEscape('plain text')).toBe('plain text');
  });

  it('round-trips any string through JSON.parse (lone surrogates become U+FFFD)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const enc = goJsonString(s);
        expect(enc).not.toMatch(/[<>&\u0000-\u001f\u2028\u2029]/);
        expect(JSON.parse(enc)).toBe(s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd'));
      }),
      { numRuns: 500 },
    );
  });

  it('formats numbers like Go float64 encoding and sorts map keys at every level', () => {
    expect(goJsonNumber(1e21)).toBe('1e+21');
    expect(goJsonNumber(1e-7)).toBe('1e-7');
    expect(goJsonNumber(0.000001)).toBe('0.000001');
    expect(goJsonNumber(34567)).toBe('34567');
    expect(goJsonNumber(-0)).toBe('-0');
    expect(() => goJsonNumber(Number.NaN)).toThrow();
    expect(goJsonMarshal({ b: [{ z: 1, a: null }], a: true, 'talos-time': 'x', 'talos-level': 'y' })).toBe(
      '{"a":true,"b":[{"a":null,"z":1}],"talos-level":"y","talos-time":"x"}',
    );
  });
});

describe('talos-time', () => {
  it('formats RFC 3339 with 0–9 fractional digits, trailing zeros trimmed', () => {
    const base = Date.UTC(2021, 10, 26, 16, 53, 21);
    expect(formatTalosTime(base + 325, 869_800)).toBe('2021-11-26T16:53:21.3258698Z');
    expect(formatTalosTime(base, 0)).toBe('2021-11-26T16:53:21Z');
    expect(formatTalosTime(base + 815, 0)).toBe('2021-11-26T16:53:21.815Z');
    expect(formatTalosTime(base, 1)).toBe('2021-11-26T16:53:21.000000001Z');
    expect(formatTalosTime(base + 999, 999_999)).toBe('2021-11-26T16:53:21.999999999Z');
  });

  it('parses any RFC 3339 offset back to the same instant', () => {
    expect(parseTalosTime('2021-11-26T16:53:21.3258698Z')).toEqual({ ms: Date.UTC(2021, 10, 26, 16, 53, 21, 325), nsRem: 869_800 });
    expect(parseTalosTime('2021-11-26T18:53:21.5+02:00')).toEqual({ ms: Date.UTC(2021, 10, 26, 16, 53, 21, 500), nsRem: 0 });
    // RFC 3339 §5.6 lets a space separate date and time; Talos never writes one, a relay might.
    expect(parseTalosTime('2021-11-26 16:53:21Z')).toEqual({ ms: Date.UTC(2021, 10, 26, 16, 53, 21), nsRem: 0 });
    expect(parseTalosTime('2021-02-29T16:53:21Z')).toBeUndefined();
    expect(parseTalosTime('2021-13-26T16:53:21Z')).toBeUndefined();
    expect(addMicros({ ms: 10, nsRem: 999_500 }, 1)).toEqual({ ms: 11, nsRem: 500 });
  });
});

describe('record formatters', () => {
  it('reproduce the spec examples byte for byte', () => {
    const t = parseTalosTime('2021-11-26T16:53:21.3258698Z')!;
    expect(formatKernelRecord({ clock: 6252819, facility: 'user', text: '[talos] task startAllServices (1/1): waiting for 6 services', priority: 'warning', seq: 711, timeMs: t.ms, timeNsRem: t.nsRem })).toBe(
      '{"clock":6252819,"facility":"user","msg":"[talos] task startAllServices (1/1): waiting for 6 services\\n","priority":"warning","seq":711,"talos-level":"warn","talos-time":"2021-11-26T16:53:21.3258698Z"}',
    );
    const b = parseTalosTime('2026-02-27T03:14:07.125Z')!;
    expect(formatKernelRecord({ clock: 912873321, facility: 'kern', text: 'BTRFS error (device sdb state EA): parent transid verify failed on logical 30408704 mirror 1 wanted 1234 found 1230', priority: 'err', seq: 10231, timeMs: b.ms, timeNsRem: b.nsRem })).toBe(
      '{"clock":912873321,"facility":"kern","msg":"BTRFS error (device sdb state EA): parent transid verify failed on logical 30408704 mirror 1 wanted 1234 found 1230\\n","priority":"err","seq":10231,"talos-level":"error","talos-time":"2026-02-27T03:14:07.125Z"}',
    );
    const e = parseTalosTime('2021-10-19T14:53:05.815Z')!;
    expect(formatServiceRecord({ service: 'etcd', msg: 'finished scheduled compaction', level: 'info', timeMs: e.ms, timeNsRem: e.nsRem, fields: { caller: 'mvcc/kvstore_compaction.go:57', 'compact-revision': 34567, took: '21.041639ms' } })).toBe(
      '{"caller":"mvcc/kvstore_compaction.go:57","compact-revision":34567,"msg":"finished scheduled compaction","talos-level":"info","talos-service":"etcd","talos-time":"2021-10-19T14:53:05.815Z","took":"21.041639ms"}',
    );
    const m = parseTalosTime('2025-08-27T12:01:03.645922392Z')!;
    expect(formatServiceRecord({ service: 'machined', msg: '2025/08/27 12:01:03.645887 machined OK [/machine.MachineService/Processes] 18.366845ms unary Success', level: 'info', timeMs: m.ms, timeNsRem: m.nsRem, fields: { 'node-name': 'talos-519-vmy' } })).toBe(
      '{"msg":"2025/08/27 12:01:03.645887 machined OK [/machine.MachineService/Processes] 18.366845ms unary Success","node-name":"talos-519-vmy","talos-level":"info","talos-service":"machined","talos-time":"2025-08-27T12:01:03.645922392Z"}',
    );
  });

  it('lets extraTags overwrite other keys, as Talos applies them last', () => {
    const line = formatServiceRecord({ service: 'kubelet', msg: 'x', level: 'info', timeMs: 0, timeNsRem: 0, fields: { zone: 'a' }, extraTags: { zone: 'b', 'talos-service': 'tagged' } });
    expect(line).toBe('{"msg":"x","talos-level":"info","talos-service":"tagged","talos-time":"1970-01-01T00:00:00Z","zone":"b"}');
  });
});

describe('records()', () => {
  it('produces only exact Talos json_lines records, kernel and service', () => {
    const recs = collect({ nodes: 5, ratePerSec: 5000, maxLines: 6000, seed: 7, failures: FAILURE_KINDS.filter((k) => k !== 'silence').map((kind, i) => ({ atMs: 10 + i * 20, kind, node: i % 5 })) });
    expect(recs).toHaveLength(6000);
    const streams = new Set<string>();
    for (const r of recs) {
      checkTalosLine(r.json, r.stream);
      streams.add(r.stream);
      expect(r.node).toBeGreaterThanOrEqual(0);
      expect(r.node).toBeLessThan(5);
    }
    expect(streams).toEqual(new Set(['kernel', 'service']));
  });

  it('keeps each node\'s kernel seq consecutive and talos-time = boot time + clock', () => {
    const recs = collect({ nodes: 3, ratePerSec: 2000, maxLines: 3000, kernelShare: 0.5, seed: 3 });
    const last = new Map<number, { seq: number; clock: number; bootUs: number }>();
    for (const r of recs.filter((x) => x.stream === 'kernel')) {
      const o = JSON.parse(r.json) as { seq: number; clock: number; 'talos-time': string };
      const t = parseTalosTime(o['talos-time'])!;
      const bootUs = t.ms * 1000 + t.nsRem / 1000 - o.clock;
      const prev = last.get(r.node);
      if (prev !== undefined) {
        expect(o.seq).toBe(prev.seq + 1);
        expect(o.clock).toBeGreaterThanOrEqual(prev.clock);
        expect(Math.abs(bootUs - prev.bootUs)).toBeLessThan(1);
      }
      last.set(r.node, { seq: o.seq, clock: o.clock, bootUs });
    }
    expect(last.size).toBe(3);
  });

  it('scales to large clusters: every node sends, all records exact', () => {
    const recs = collect({ nodes: 150, ratePerSec: 100_000, maxLines: 6000, seed: 13 });
    expect(new Set(recs.map((r) => r.node)).size).toBe(150);
    for (const r of recs.slice(0, 1500)) checkTalosLine(r.json, r.stream);
    // Only the first three nodes are control planes (they run etcd).
    expect(recs.filter((r) => r.node >= 3 && r.json.includes('"talos-service":"etcd"'))).toEqual([]);
    expect(recs.some((r) => r.node < 3 && r.json.includes('"talos-service":"etcd"'))).toBe(true);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const a = collect({ nodes: 4, ratePerSec: 1000, maxLines: 500, seed: 11 }).map((r) => r.json);
    const b = collect({ nodes: 4, ratePerSec: 1000, maxLines: 500, seed: 11 }).map((r) => r.json);
    const c = collect({ nodes: 4, ratePerSec: 1000, maxLines: 500, seed: 12 }).map((r) => r.json);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('honours durationMs, rate and start time in event time', () => {
    const start = Date.UTC(2026, 1, 27, 3, 0, 0);
    const recs = collect({ nodes: 2, ratePerSec: 200, durationMs: 10_000, startTimeMs: start, seed: 5 });
    expect(recs.length).toBeGreaterThanOrEqual(1999);
    expect(recs.length).toBeLessThanOrEqual(2001);
    for (const r of recs) {
      expect(r.timeMs).toBeGreaterThanOrEqual(start - 1);
      expect(r.timeMs).toBeLessThan(start + 10_000);
    }
    expect(collect({ nodes: 1, ratePerSec: 100, maxLines: 1 })[0]!.timeMs).toBeLessThan(DEFAULT_START_TIME_MS + 10);
    expect(collect({ nodes: 1, ratePerSec: 100, maxLines: 0 })).toHaveLength(0);
  });

  it('injects failures at their time on their node, repeating and silencing as asked', () => {
    const start = DEFAULT_START_TIME_MS;
    const recs = collect({
      nodes: 3, ratePerSec: 1000, durationMs: 20_000, seed: 9,
      failures: [
        { atMs: 2_000, kind: 'oom', node: 2 },
        { atMs: 3_000, kind: 'conntrack-full', node: 1, durationMs: 5_000 },
        { atMs: 10_000, kind: 'silence', node: 0, durationMs: 4_000 },
        { atMs: 15_000, kind: 'iscsi-error', node: 2 },
      ],
    });
    // iSCSI: the kernel's lines on the kernel stream, iscsid's on the service stream of the same node.
    const iscsi = recs.filter((r) => r.json.includes('conn error') || r.json.includes('ext-iscsid'));
    expect(iscsi.map((r) => [r.node, r.stream])).toEqual([[2, 'kernel'], [2, 'service'], [2, 'service']]);
    const seedIscsi = /(iscsid|iscsi).*(error|failed|timeout|lost)/i;
    expect(iscsi.map((r) => seedIscsi.test((JSON.parse(r.json) as { msg: string }).msg))).toEqual([false, true, false]);
    const oom = recs.filter((r) => r.json.includes('Out of memory: Killed process'));
    expect(oom).toHaveLength(1);
    expect(oom[0]!.node).toBe(2);
    expect(oom[0]!.stream).toBe('kernel');
    expect(oom[0]!.timeMs).toBeGreaterThanOrEqual(start + 2_000);
    expect(oom[0]!.timeMs).toBeLessThan(start + 2_010);
    const ct = recs.filter((r) => r.json.includes('table full, dropping packet'));
    expect(ct.map((r) => r.node)).toEqual([1, 1, 1, 1, 1]);
    const silent = recs.filter((r) => r.node === 0 && r.timeMs >= start + 10_000 && r.timeMs < start + 14_000);
    expect(silent).toHaveLength(0);
    expect(recs.some((r) => r.node === 0 && r.timeMs >= start + 14_000)).toBe(true);
    expect(recs.some((r) => r.node === 0 && r.timeMs < start + 10_000)).toBe(true);
  });

  it('has a message sequence for every failure kind (silence excepted)', () => {
    const r = new Rng(1);
    for (const kind of FAILURE_KINDS) {
      const msgs = failureMessages(kind, r);
      if (kind === 'silence') expect(msgs).toHaveLength(0);
      else expect(msgs.length).toBeGreaterThan(0);
      for (const m of msgs) {
        if (isServiceFailureMessage(m)) expect(m.service).toMatch(/^[a-z-]+$/);
        else expect(m.text).not.toMatch(/\n$/);
      }
    }
  });

  it('rejects nonsense options', () => {
    expect(() => collect({ nodes: 0, ratePerSec: 1, maxLines: 1 })).toThrow(RangeError);
    expect(() => collect({ nodes: 1, ratePerSec: 0, maxLines: 1 })).toThrow(RangeError);
    expect(() => collect({ nodes: 1, ratePerSec: 1, maxLines: 1, kernelShare: 2 })).toThrow(RangeError);
    expect(() => collect({ nodes: 2, ratePerSec: 1, maxLines: 1, failures: [{ atMs: 0, kind: 'oom', node: 2 }] })).toThrow(RangeError);
  });
});

describe('sendTalosTraffic', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('uses one TCP connection per node per stream, newline-framed, from a distinct loopback address per node', async () => {
    const conns: Array<{ remote: string; data: string; closed: Promise<void> }> = [];
    const server = net.createServer((s) => {
      const c = { remote: s.remoteAddress ?? '', data: '', closed: new Promise<void>((res) => s.on('close', () => res())) };
      conns.push(c);
      s.setEncoding('utf8');
      s.on('data', (d: string) => (c.data += d));
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    cleanups.push(() => new Promise((res) => server.close(() => res())));
    const port = (server.address() as net.AddressInfo).port;

    const result = await sendTalosTraffic({ host: '127.0.0.1', port, proto: 'tcp' }, { nodes: 3, ratePerSec: 3000, maxLines: 900, seed: 4 });
    await Promise.all(conns.map((c) => c.closed));
    expect(result.sent).toBe(900);
    expect(result.dropped).toBe(0);
    expect(conns.length).toBe(6);
    let lines = 0;
    let bytes = 0;
    const remotes = new Map<string, Set<string>>();
    for (const c of conns) {
      bytes += Buffer.byteLength(c.data);
      expect(c.data.endsWith('\n')).toBe(true);
      const ls = c.data.slice(0, -1).split('\n');
      const kinds = new Set(ls.map((l) => ('clock' in (JSON.parse(l) as object) ? 'kernel' : 'service')));
      expect(kinds.size).toBe(1); // a connection carries a single stream
      for (const l of ls) checkTalosLine(l, [...kinds][0] as 'kernel' | 'service');
      lines += ls.length;
      const set = remotes.get(c.remote) ?? new Set<string>();
      set.add([...kinds][0]!);
      remotes.set(c.remote, set);
    }
    expect(lines).toBe(900);
    expect(bytes).toBe(result.bytes);
    if (process.platform === 'linux') {
      expect(new Set(remotes.keys())).toEqual(new Set([0, 1, 2].map(nodeSourceAddress)));
      for (const kinds of remotes.values()) expect(kinds).toEqual(new Set(['kernel', 'service']));
    }
  });

  it('sends one datagram per record over UDP, without a newline', async () => {
    const sock = dgram.createSocket('udp4');
    const got: string[] = [];
    sock.on('message', (m) => got.push(m.toString('utf8')));
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
    cleanups.push(() => new Promise((res) => sock.close(() => res())));
    const port = sock.address().port;
    const result = await sendTalosTraffic({ host: '127.0.0.1', port, proto: 'udp' }, { nodes: 2, ratePerSec: 1000, maxLines: 200, seed: 8 });
    const until = Date.now() + 2000;
    while (got.length < 200 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(result.sent).toBe(200);
    expect(got).toHaveLength(200);
    for (const d of got) {
      expect(d.endsWith('\n')).toBe(false);
      checkTalosLine(d, 'clock' in (JSON.parse(d) as object) ? 'kernel' : 'service');
    }
  });

  it('paces records to the requested rate', async () => {
    const server = net.createServer((s) => s.resume());
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    cleanups.push(() => new Promise((res) => server.close(() => res())));
    const port = (server.address() as net.AddressInfo).port;
    const t0 = Date.now();
    const result = await sendTalosTraffic({ host: '127.0.0.1', port, proto: 'tcp' }, { nodes: 1, ratePerSec: 500, durationMs: 400, seed: 1 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(result.sent).toBeGreaterThanOrEqual(195);
    expect(result.sent).toBeLessThanOrEqual(201);
  });

  it('refuses non-loopback targets and unbounded traffic', async () => {
    await expect(sendTalosTraffic({ host: '10.0.0.5' as '127.0.0.1', port: 6000, proto: 'tcp' }, { nodes: 1, ratePerSec: 1, maxLines: 1 })).rejects.toThrow(/non-loopback/);
    await expect(sendTalosTraffic({ host: '127.0.0.1', port: 6000, proto: 'tcp' }, { nodes: 1, ratePerSec: 1 })).rejects.toThrow(/required/);
  });

  it('drops records while the receiver is unreachable instead of hanging', async () => {
    // Grab a free port, then close it so nothing listens there.
    const probe = net.createServer();
    await new Promise<void>((res) => probe.listen(0, '127.0.0.1', () => res()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((res) => probe.close(() => res()));
    const result = await sendTalosTraffic({ host: '127.0.0.1', port, proto: 'tcp' }, { nodes: 1, ratePerSec: 200, durationMs: 500, seed: 2 });
    expect(result.dropped).toBeGreaterThan(0);
    expect(result.sent + result.dropped).toBeGreaterThanOrEqual(95);
  });
});
