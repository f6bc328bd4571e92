import { describe, expect, it } from 'vitest';
import { records } from '../../src/traffic/index.js';
import { parseTalosTime } from '../../src/talos/time.js';
import {
  captureRecordToTalosJson, detectCaptureFormat, parseTextCapture, parseTextCaptureLine,
  TextCaptureParser, type CaptureLineResult, type CaptureRecord,
} from '../../src/talos/text-capture.js';

function ok(res: CaptureLineResult): CaptureRecord {
  if (!res.ok) throw new Error(`line ${res.lineNo}: ${res.reason}`);
  return res.record;
}

/** What talosctl prints for one kmsg record: machined's "%s: %7s: [%s]: %s" behind "%s: " with the node. */
function talosctlDmesgLine(node: string, rec: { facility: string; priority: string; msg: string; 'talos-time': string }): string {
  return `${node}: ${rec.facility}: ${rec.priority.padStart(7)}: [${rec['talos-time']}]: ${rec.msg}`;
}

// A realistic `talosctl -n 172.20.0.2,172.20.0.3 dmesg` capture, with one line mangled (line 6).
const DMESG_CAPTURE = [
  '172.20.0.2: kern:    info: [2021-11-10T10:09:37.662764956Z]: Command line: init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on talos.platform=metal',
  '172.20.0.2: kern:   debug: [2021-11-10T10:09:37.81342Z]: pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)',
  ' SUBSYSTEM=acpi',
  ' DEVICE=+acpi:PNP0A03:00',
  '172.20.0.3: kern:    info: [2021-11-10T10:09:38.1Z]: NET: Registered protocol family 10',
  '172.20.0.2: kern: warning: 2021-11-10T10:09:39Z]: truncated by a bad copy-paste',
  '172.20.0.2: user: warning: [2021-11-10T10:09:40.000000001Z]: [talos] task startAllServices (1/1): waiting for 6 services',
  '172.20.0.3: kern:     err: [2026-02-27T03:14:07.125Z]: BTRFS error (device sdb state EA): parent transid verify failed on logical 30408704 mirror 1 wanted 1234 found 1230',
  '172.20.0.3: kern:   emerg: [2026-02-27T03:14:08Z]: watchdog: BUG: soft lockup - CPU#3 stuck for 26s! [kworker/3:2:1234]',
  '',
];

describe('talosctl dmesg captures', () => {
  it('parses the documented line format, with and without the node prefix', () => {
    const r = ok(parseTextCaptureLine(DMESG_CAPTURE[0]!, 1));
    expect(r).toEqual({
      time: '2021-11-10T10:09:37.662764956Z',
      msg: 'Command line: init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on talos.platform=metal',
      level: 'info', facility: 'kern', priority: 'info', node: '172.20.0.2',
    });
    const bare = ok(parseTextCaptureLine('kern:     err: [2026-02-27T03:14:07.125Z]: I/O error, dev sdb, sector 2048 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0', 1));
    expect(bare.node).toBeUndefined();
    expect(bare.level).toBe('error');
    const v6 = ok(parseTextCaptureLine('fd00::1: kern: warning: [2026-02-27T03:14:07+01:00]: nvme nvme0: I/O 123 QID 4 timeout, aborting', 1));
    expect(v6.node).toBe('fd00::1');
    expect(v6.time).toBe('2026-02-27T02:14:07Z');
    expect(v6.level).toBe('warn');
  });

  it('maps every priority (right-aligned to 7 columns) to the Talos level', () => {
    const expected = { emerg: 'error', alert: 'error', crit: 'error', err: 'error', warning: 'warn', notice: 'info', info: 'info', debug: 'debug' };
    for (const [prio, level] of Object.entries(expected)) {
      const line = talosctlDmesgLine('n1', { facility: 'kern', priority: prio, msg: 'x', 'talos-time': '2026-01-01T00:00:00Z' });
      const r = ok(parseTextCaptureLine(line, 1));
      expect(r.priority).toBe(prio);
      expect(r.level).toBe(level);
    }
  });

  it('joins dictionary lines, numbers records per node and reports bad lines with their line numbers', () => {
    const results = [...parseTextCapture(DMESG_CAPTURE)];
    const bad = results.filter((r) => !r.ok);
    expect(bad).toEqual([{ ok: false, lineNo: 6, reason: expect.stringMatching(/./) as string }]);
    const recs = results.filter((r): r is { ok: true; record: CaptureRecord } => r.ok).map((r) => r.record);
    expect(recs).toHaveLength(6);
    expect(recs[1]!.msg).toBe('pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)\n SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A03:00');
    expect(recs.filter((r) => r.node === '172.20.0.2').map((r) => r.seq)).toEqual([0, 1, 2]);
    expect(recs.filter((r) => r.node === '172.20.0.3').map((r) => r.seq)).toEqual([0, 1, 2]);
    expect(recs[1]!.clock).toBe(150_655); // µs after the node's first record
    expect(captureRecordToTalosJson(recs[1]!)).toBe(
      '{"clock":150655,"facility":"kern","msg":"pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)\\n SUBSYSTEM=acpi\\n DEVICE=+acpi:PNP0A03:00\\n","priority":"debug","seq":1,"talos-level":"debug","talos-time":"2021-11-10T10:09:37.81342Z"}',
    );
    // A dictionary line on its own is an error, not a record.
    const orphan = parseTextCaptureLine(' SUBSYSTEM=acpi', 3);
    expect(orphan).toMatchObject({ ok: false, lineNo: 3 });
  });

  it('turns generated kernel records printed as talosctl text back into the same records', () => {
    const recs = [...records({ nodes: 2, ratePerSec: 1000, maxLines: 400, kernelShare: 1, seed: 21, failures: [{ atMs: 50, kind: 'xfs-shutdown' }] })];
    const text: string[] = [];
    const originals: Array<Record<string, unknown>> = [];
    for (const r of recs) {
      const o = JSON.parse(r.json) as { facility: string; priority: string; msg: string; 'talos-time': string };
      originals.push(o);
      // Dictionary lines print as continuation lines: the message keeps its newlines.
      text.push(...talosctlDmesgLine(`10.5.0.${r.node + 2}`, o).replace(/\n$/, '').split('\n'));
    }
    const parsed = [...parseTextCapture(text)].map(ok);
    expect(parsed).toHaveLength(originals.length);
    parsed.forEach((p, i) => {
      const back = JSON.parse(captureRecordToTalosJson(p)) as Record<string, unknown>;
      const { seq: _s, clock: _c, ...rest } = originals[i]!;
      expect(back).toMatchObject(rest);
    });
  });
});

describe('talosctl logs captures', () => {
  it('applies Talos extraction to zap JSON (etcd) and reproduces the json_lines record', () => {
    const line = '172.20.0.2: {"level":"info","ts":"2021-10-19T14:53:05.815Z","caller":"mvcc/kvstore_compaction.go:57","msg":"finished scheduled compaction","compact-revision":34567,"took":"21.041639ms"}';
    const r = ok(parseTextCaptureLine(line, 1, { service: 'etcd' }));
    expect(r).toMatchObject({ time: '2021-10-19T14:53:05.815Z', level: 'info', msg: 'finished scheduled compaction', node: '172.20.0.2', service: 'etcd' });
    expect(captureRecordToTalosJson(r)).toBe(
      '{"caller":"mvcc/kvstore_compaction.go:57","compact-revision":34567,"msg":"finished scheduled compaction","talos-level":"info","talos-service":"etcd","talos-time":"2021-10-19T14:53:05.815Z","took":"21.041639ms"}',
    );
  });

  it('appends err to msg, raises the level to warn and reads float-millisecond ts (kubelet)', () => {
    const line = '10.5.0.2: {"ts":1635266751595.943,"caller":"kubelet/kubelet.go:1703","msg":"Failed creating a mirror pod for","pod":"kube-system/kube-controller-manager-talos-dev-qemu-master-1","err":"pods \\"kube-controller-manager-talos-dev-qemu-master-1\\" already exists"}';
    const r = ok(parseTextCaptureLine(line, 1, { service: 'kubelet' }));
    expect(captureRecordToTalosJson(r)).toBe(
      '{"caller":"kubelet/kubelet.go:1703","msg":"Failed creating a mirror pod for: pods \\"kube-controller-manager-talos-dev-qemu-master-1\\" already exists","pod":"kube-system/kube-controller-manager-talos-dev-qemu-master-1","talos-level":"warn","talos-service":"kubelet","talos-time":"2021-10-26T16:45:51.595943212Z"}',
    );
  });

  it('handles logrus levels, text followed by JSON, and HTML escaping on the way out', () => {
    const c = ok(parseTextCaptureLine('n: {"level":"warning","msg":"cleanup warnings \\u0026 more\\n","time":"2021-10-19T14:52:20.578858689Z"}', 1, { service: 'containerd' }));
    expect(c).toMatchObject({ level: 'warn', msg: 'cleanup warnings & more', time: '2021-10-19T14:52:20.578858689Z' });
    expect(c.fields).toBeUndefined();
    expect(captureRecordToTalosJson(c)).toContain('"msg":"cleanup warnings \\u0026 more"');
    const m = ok(parseTextCaptureLine('n: reconfigured wireguard link {"component": "controller-runtime", "controller": "network.LinkSpecController", "link": "kubespan", "peers": 4}', 1, { service: 'machined', defaultTime: { ms: 0, nsRem: 0 } }));
    expect(m.msg).toBe('reconfigured wireguard link');
    expect(m.fields).toEqual({ component: 'controller-runtime', controller: 'network.LinkSpecController', link: 'kubespan', peers: 4 });
    expect(m.timeInferred).toBe(true);
  });

  it('reads Go log timestamps and `talosctl logs kernel` lines', () => {
    const g = ok(parseTextCaptureLine('10.5.0.2: 2025/08/27 12:01:03.645887 machined OK [/machine.MachineService/Processes] 18.366845ms unary Success', 1, { service: 'machined' }));
    expect(g.time).toBe('2025-08-27T12:01:03.645887Z');
    expect(g.msg).toBe('2025/08/27 12:01:03.645887 machined OK [/machine.MachineService/Processes] 18.366845ms unary Success');
    const k = ok(parseTextCaptureLine('10.5.0.2: 2025-11-27 10:00:05.59417033 +0000 UTC m=+12.000000001: kern: EXT4-fs (sda1): Remounting filesystem read-only', 1));
    expect(k.service).toBe('kernel');
    expect(k.time).toBe('2025-11-27T10:00:05.59417033Z');
    expect(k.msg).toContain('Remounting filesystem read-only');
  });

  it('lets plain lines inherit the previous timestamp and reports lines with none', () => {
    const lines = [
      '172.20.1.2: [talos] task setupLogger (1/1): done, 106.109µs',
      '172.20.1.2: 2025/08/27 12:01:03 machined OK [/machine.MachineService/Version] 1ms unary Success',
      '172.20.1.2: [talos] phase logger (1/7): done, 564.476µs',
      'garbage without a node prefix',
    ];
    const p = new TextCaptureParser({ service: 'machined' });
    const out = [...lines.flatMap((l) => p.push(l)), ...p.end()];
    expect(out.filter((r) => !r.ok)).toEqual([
      { ok: false, lineNo: 1, reason: expect.stringContaining('no timestamp') as string },
      { ok: false, lineNo: 4, reason: expect.stringContaining('not a talosctl logs line') as string },
    ]);
    const recs = out.filter((r) => r.ok).map(ok);
    expect(recs.map((r) => [r.time, r.timeInferred ?? false])).toEqual([
      ['2025-08-27T12:01:03Z', false],
      ['2025-08-27T12:01:03Z', true],
    ]);
    expect(JSON.parse(captureRecordToTalosJson(recs[1]!))).toEqual({ msg: '[talos] phase logger (1/7): done, 564.476µs', 'talos-level': 'info', 'talos-service': 'machined', 'talos-time': '2025-08-27T12:01:03Z' });
  });
});

describe('detectCaptureFormat', () => {
  it('tells json_lines, dmesg and logs captures apart', () => {
    const json = [...records({ nodes: 1, ratePerSec: 10, maxLines: 5 })].map((r) => r.json);
    expect(detectCaptureFormat(json)).toBe('json_lines');
    expect(detectCaptureFormat(DMESG_CAPTURE)).toBe('dmesg');
    expect(detectCaptureFormat(['172.20.1.2: [talos] task setupLogger (1/1): done, 106.109µs', '172.20.1.2: {"level":"info","msg":"x"}'])).toBe('logs');
    expect(detectCaptureFormat([])).toBe('logs');
    expect(parseTalosTime(ok(parseTextCaptureLine(DMESG_CAPTURE[4]!, 5)).time)).toBeDefined();
  });
});
