import { describe, expect, it } from 'vitest';
import { TalosDecoder, type DecoderOptions } from '../../src/talos/decode.js';
import { parseTalosTime } from '../../src/talos/time.js';
import type { LogEvent } from '../../src/log-event.js';

const BASE: DecoderOptions = { job: 'talos-kernel', lineFormat: 'msg', hostNames: {}, labelFields: [], staticLabels: {}, futureToleranceMs: 10_000, metadata: true };
const KERNEL = '{"clock":6252819,"facility":"user","msg":"[talos] task startAllServices (1/1): waiting for 6 services\\n","priority":"warning","seq":711,"talos-level":"warn","talos-time":"2021-11-26T16:53:21.3258698Z"}';
const NOW = Date.parse('2026-11-22T00:00:00Z');

function decode(opts: Partial<DecoderOptions>, text: string, peer = '10.0.0.5', now = NOW): LogEvent {
  const r = new TalosDecoder({ ...BASE, ...opts }).decode(text, peer, now);
  if (typeof r === 'string') throw new Error(r);
  return r;
}

describe('Talos record decoding', () => {
  it('keeps talos-time to the nanosecond (0–9 fractional digits)', () => {
    expect(parseTalosTime('2021-11-26T16:53:21.3258698Z')).toEqual({ ms: Date.parse('2021-11-26T16:53:21.325Z'), nsRem: 869_800 });
    expect(parseTalosTime('2026-08-21T10:00:05Z')).toEqual({ ms: Date.parse('2026-08-21T10:00:05Z'), nsRem: 0 });
    expect(parseTalosTime('2026-08-21T10:00:05.1Z')).toEqual({ ms: Date.parse('2026-08-21T10:00:05.100Z'), nsRem: 0 });
    expect(parseTalosTime('2026-08-21T12:00:05.000000001+02:00')).toEqual({ ms: Date.parse('2026-08-21T10:00:05Z'), nsRem: 1 });
    for (const bad of ['2026-02-30T00:00:00Z', '2026-08-21 10:00', '2026-13-01T00:00:00Z', '2026-08-21T10:00:05.Z', 'yesterday']) expect(parseTalosTime(bad)).toBeUndefined();
  });

  it('labels a kernel record as the seed pipeline does and keeps the rest as metadata', () => {
    const ev = decode({}, KERNEL);
    expect(ev.stream.labels).toEqual({ job: 'talos-kernel', host: '10.0.0.5', talos_service: 'kernel', level: 'warn' });
    expect(ev.line).toBe('[talos] task startAllServices (1/1): waiting for 6 services');
    expect(ev.metadata).toEqual({ clock: '6252819', facility: 'user', priority: 'warning', seq: '711' });
  });

  it('line_format raw keeps the record exactly as received', () => {
    const ev = decode({ lineFormat: 'raw' }, KERNEL);
    expect(ev.line).toBe(KERNEL);
    expect(ev.metadata).toBeUndefined();
  });

  it('maps hosts, promotes configured fields to labels, and adds static labels', () => {
    const ev = decode({ hostNames: { '10.0.0.5': 'talos-519-vmy' }, labelFields: ['facility', 'node-name'], staticLabels: { cluster: 'homelab', job: 'ignored' } }, KERNEL);
    expect(ev.stream.labels).toEqual({ cluster: 'homelab', job: 'talos-kernel', host: 'talos-519-vmy', talos_service: 'kernel', level: 'warn', facility: 'user' });
    expect(ev.metadata).not.toHaveProperty('facility');
  });

  it('host comes from the host field (Talos extraTags) when the record has it, else host_names, else the peer IP', () => {
    const tagged = KERNEL.replace('{', '{"node-name":"talos-cp-1",');
    const opts = { hostField: 'node-name', hostNames: { '10.0.0.5': 'mapped' } };
    const ev = decode(opts, tagged);
    expect(ev.stream.labels).toEqual({ job: 'talos-kernel', host: 'talos-cp-1', talos_service: 'kernel', level: 'warn' });
    // The field names the node once: not structured metadata, not a label field.
    expect(ev.metadata).toEqual({ clock: '6252819', facility: 'user', priority: 'warning', seq: '711' });
    expect(decode({ ...opts, labelFields: ['node-name', 'facility'] }, tagged).stream.labels).toEqual({ job: 'talos-kernel', host: 'talos-cp-1', talos_service: 'kernel', level: 'warn', facility: 'user' });
    // Without the field (or with an empty or non-string one): host_names, then the peer.
    expect(decode(opts, KERNEL).stream.labels.host).toBe('mapped');
    expect(decode(opts, KERNEL, '10.0.0.6').stream.labels.host).toBe('10.0.0.6');
    expect(decode(opts, KERNEL.replace('{', '{"node-name":"",'), '10.0.0.6').stream.labels.host).toBe('10.0.0.6');
    expect(decode(opts, KERNEL.replace('{', '{"node-name":7,'), '10.0.0.6').stream.labels.host).toBe('10.0.0.6');
    // Two nodes behind one peer address (NAT, a relay) stay two streams.
    const d = new TalosDecoder({ ...BASE, ...opts });
    const a = d.decode(tagged, '10.0.0.9', NOW) as LogEvent;
    const b = d.decode(KERNEL.replace('{', '{"node-name":"talos-cp-2",'), '10.0.0.9', NOW) as LogEvent;
    expect([a.stream.labels.host, b.stream.labels.host]).toEqual(['talos-cp-1', 'talos-cp-2']);
    expect(a.stream).not.toBe(b.stream);
    // Disabled: the field is ordinary metadata and the peer names the host.
    const off = decode({ hostField: '' }, tagged);
    expect(off.stream.labels.host).toBe('10.0.0.5');
    expect(off.metadata).toMatchObject({ 'node-name': 'talos-cp-1' });
  });

  it('falls back to the receive time for a missing, invalid or far-future talos-time, and counts why', () => {
    const d = new TalosDecoder(BASE);
    const at = (t: unknown) => (d.decode(JSON.stringify({ msg: 'x', 'talos-time': t }), '10.0.0.5', NOW) as LogEvent).timeMs;
    expect(at(undefined)).toBe(NOW);
    expect(at('not a time')).toBe(NOW);
    expect(at(new Date(NOW + 60_000).toISOString())).toBe(NOW);
    expect(at(new Date(NOW + 5_000).toISOString())).toBe(NOW + 5_000);
    expect(d.timeFallbacks).toEqual({ missing: 1, invalid: 1, future: 1 });
  });

  it('rejects records that are not Talos records, by reason', () => {
    const d = new TalosDecoder(BASE);
    expect(d.decode('{"msg":', 'p', NOW)).toBe('invalid_json');
    expect(d.decode('"just a string"', 'p', NOW)).toBe('not_object');
    expect(d.decode('null', 'p', NOW)).toBe('not_object');
    expect(d.decode('{"message":"x"}', 'p', NOW)).toBe('missing_msg');
    expect(d.decode('{"msg":42}', 'p', NOW)).toBe('missing_msg');
  });
});
