/**
 * The opt-in rule library (rules/library/*.yaml) against its fixtures
 * (test/fixtures/library, see manifest.json there):
 *   - every file loads with the real loader, nothing unsupported;
 *   - each expression also parses with Grafana's LogQL grammar, and every
 *     line-filter regex compiles with real RE2 (re2-wasm), so it is valid Go
 *     RE2 for Loki too;
 *   - per record, the rule's selector + line filters evaluated independently
 *     (real RE2) accept every positive record and reject every negative one;
 *   - through the engine on a simulated clock: positive fires with the host
 *     label, negative and flap never fire.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parser as lezerParser } from '@grafana/lezer-logql';
import { beforeAll, describe, expect, it } from 'vitest';
import { re2, selectorAccepts, selectors } from '../helpers/re2-selector-oracle.js';
import { listRuleFiles, loadRuleSet } from '../../src/rules/load.js';
import type { AlertingRuleDef, RuleSet } from '../../src/rules/rule-file.js';
import { Simulation } from '../../src/rules/simulate.js';
import { TalosDecoder } from '../../src/talos/decode.js';
import type { LogEvent } from '../../src/log-event.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'library');

interface ManifestEntry {
  rule: string;
  file: string;
  kind: 'lines' | 'absence';
  positive: string;
  negative: string;
  flap?: string;
}
const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as { host: string; rules: ManifestEntry[] };

function decodeFixture(rel: string): LogEvent[] {
  const decoder = new TalosDecoder({
    job: 'talos-kernel', lineFormat: 'msg', hostNames: {}, labelFields: [], staticLabels: {},
    futureToleranceMs: Number.MAX_SAFE_INTEGER / 2, metadata: false,
  });
  return readFileSync(join(FIXTURES, rel), 'utf8').trimEnd().split('\n').map((line) => {
    const ev = decoder.decode(line, manifest.host, 0);
    if (typeof ev === 'string') throw new Error(`${rel}: ${ev}: ${line}`);
    return ev;
  });
}


function alertRule(set: RuleSet, name: string): AlertingRuleDef {
  const r = set.groups.flatMap((g) => g.rules).find((x) => x.name === name);
  if (r === undefined || r.kind !== 'alert') throw new Error(`no alerting rule ${name}`);
  return r;
}

/** The rule set holding only `rule`, so other rules of the file cannot interfere. */
function only(set: RuleSet, rule: string): RuleSet {
  return { ...set, groups: set.groups.map((g) => ({ ...g, rules: g.rules.filter((r) => r.name === rule) })).filter((g) => g.rules.length > 0) };
}

function run(set: RuleSet, events: LogEvent[], finish: boolean): Simulation {
  const sim = new Simulation(set, events[0]!.timeMs, { tickMs: 1000 });
  for (const ev of events) sim.ingest(ev);
  if (finish) sim.finish();
  return sim;
}

const FILES = ['rules/library/storage.yaml', 'rules/library/node.yaml', 'rules/library/network.yaml', 'rules/library/talos.yaml', 'rules/library/pipeline.yaml'];
const sets = new Map<string, RuleSet>();

beforeAll(async () => {
  for (const f of FILES) sets.set(f, await loadRuleSet([join(ROOT, f)], { unsupported: 'error' }));
});

describe('rules/library files', () => {
  it('load with the Loki-compatible loader, every rule supported and annotated', () => {
    for (const f of FILES) {
      const set = sets.get(f)!;
      expect(set.skipped, f).toEqual([]);
      for (const r of set.groups.flatMap((g) => g.rules)) {
        expect(r.kind, r.name).toBe('alert');
        const a = r as AlertingRuleDef;
        expect(['critical', 'warning', 'info'], r.name).toContain(a.labels['severity']);
        for (const key of ['summary', 'description', 'runbook_url']) expect(a.annotations[key], `${r.name} ${key}`).toBeTruthy();
        // absent_over_time's value is always 1 and it has no host: only grouped rules template them.
        if (r.exprText.includes('by (host)')) {
          expect(a.annotations['description'], r.name).toContain('{{ $value }}');
          expect(a.annotations['description'], r.name).toContain('{{ $labels.host }}');
        }
      }
    }
  });

  it('parse with Grafana\'s LogQL grammar and use only RE2-valid regexes', () => {
    for (const f of FILES) {
      for (const r of sets.get(f)!.groups.flatMap((g) => g.rules)) {
        const tree = lezerParser.parse(r.exprText);
        let errorAt = -1;
        tree.iterate({ enter: (n) => { if (n.type.isError && errorAt < 0) errorAt = n.from; } });
        expect(errorAt, `${r.name}: lezer error at ${errorAt}`).toBe(-1);
        for (const sel of selectors(r.expr)) {
          for (const fl of sel.filters) if (fl.op === '|~' || fl.op === '!~') for (const v of fl.values) expect(() => re2(v), `${r.name}: ${v}`).not.toThrow();
          // Content rules name the stream(s) their message comes from (kernel, machined, kubelet,
          // etcd, iscsid), so another service logging the same words cannot fire them.
          if (sel.filters.length > 0) expect(sel.matchers.some((m) => m.name === 'talos_service' && (m.op === '=' || m.op === '=~')), r.name).toBe(true);
        }
      }
    }
  });

  it('are not loaded from ./rules by default, only when named (opt-in directory)', async () => {
    const set = await loadRuleSet([join(ROOT, 'rules')], { unsupported: 'error' });
    const names = set.groups.flatMap((g) => g.rules.map((r) => r.name));
    expect(names).toContain('BTRFSCorruptionDetected');
    expect(names).not.toContain('BTRFSError');
    const byDefault = await listRuleFiles([join(ROOT, 'rules')]);
    expect(byDefault.files.some((p) => p.includes(`${sep}library${sep}`))).toBe(false);
    expect(byDefault.files).toContain(join(ROOT, 'rules', 'talos-kernel.yaml'));
    const named = await listRuleFiles([join(ROOT, 'rules', 'library')]);
    expect(named.files.map((p) => p.slice(p.lastIndexOf(sep) + 1)).sort()).toEqual(['network.yaml', 'node.yaml', 'pipeline.yaml', 'storage.yaml', 'talos.yaml']);
  });
});

describe.each(manifest.rules.filter((e) => e.kind === 'lines'))('$rule (per record)', (entry) => {
  it('positive records pass its selector and filters one by one; negative records do not', () => {
    const rule = alertRule(sets.get(entry.file)!, entry.rule);
    const sels = selectors(rule.expr);
    for (const ev of decodeFixture(entry.positive)) expect(sels.some((s) => selectorAccepts(s, ev)), `should match: ${ev.line}`).toBe(true);
    for (const ev of decodeFixture(entry.negative)) expect(sels.some((s) => selectorAccepts(s, ev)), `should not match: ${ev.line}`).toBe(false);
  });

});

describe.each(manifest.rules)('$rule', (entry) => {
  it('fires on the positive fixture, with the host label where it groups by host', () => {
    const set = only(sets.get(entry.file)!, entry.rule);
    const sim = run(set, decodeFixture(entry.positive), true);
    const firing = sim.changes.filter((c) => c.kind === 'firing' && c.alert.labels['alertname'] === entry.rule);
    expect(firing.length, 'firing changes').toBeGreaterThan(0);
    const rule = alertRule(set, entry.rule);
    if (rule.exprText.includes('by (host)')) expect(firing[0]!.alert.labels['host']).toBe(manifest.host);
    expect(firing[0]!.alert.labels['severity']).toBe(rule.labels['severity']);
  });

  it('stays silent on the negative fixture', () => {
    const set = only(sets.get(entry.file)!, entry.rule);
    // Any stream goes absent after its end: judge absence rules only while the fixture lasts.
    const sim = run(set, decodeFixture(entry.negative), entry.kind !== 'absence');
    expect(sim.changes.filter((c) => c.alert.labels['alertname'] === entry.rule && c.kind === 'firing')).toEqual([]);
  });

});

describe.each(manifest.rules.filter((e) => e.flap !== undefined))('$rule (flap)', (entry) => {
  it('does not fire on matching records below its threshold or `for`', () => {
    const set = only(sets.get(entry.file)!, entry.rule);
    const events = decodeFixture(entry.flap!);
    const rule = alertRule(set, entry.rule);
    for (const ev of events) expect(selectors(rule.expr).some((s) => selectorAccepts(s, ev))).toBe(true);
    const sim = run(set, events, true);
    expect(sim.changes.filter((c) => c.alert.labels['alertname'] === entry.rule && c.kind === 'firing')).toEqual([]);
  });
});
