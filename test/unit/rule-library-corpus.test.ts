/**
 * The rule library against REAL lines (test/fixtures/library/corpus, format in
 * its README.md): kernel, machined, kubelet, etcd and iscsid lines copied from
 * public bug reports, each under its source URL.
 *   - coverage floor: every category has ≥ 10 real lines from ≥ 3 sources, and
 *     there are ≥ 300 benign lines;
 *   - every failure line passes its intended rule's selector + line filters on
 *     its own (real RE2), and fires that rule through the engine on a simulated
 *     clock, within the rule's range (repeated only as often as its threshold
 *     or `for` needs: a burst or a message the kernel repeats);
 *   - no benign line passes the selector + filters of any content rule, and fed
 *     together through the engine they never make any rule pend or fire.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectorAccepts, selectors } from '../helpers/re2-selector-oracle.js';
import { loadRuleSet } from '../../src/rules/load.js';
import type { AlertingRuleDef, RuleSet } from '../../src/rules/rule-file.js';
import { Simulation } from '../../src/rules/simulate.js';
import { TalosDecoder } from '../../src/talos/decode.js';
import type { LogEvent } from '../../src/log-event.js';
import { type CorpusLine, loadCorpus, renderCorpusLine } from '../fixtures/library/corpus.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LIBRARY = join(ROOT, 'rules', 'library');
const HOST = '10.5.0.7';
const START_MS = Date.UTC(2026, 1, 27, 3, 14, 0);

const MIN_LINES = 10;
const MIN_SOURCES = 3;
const MIN_BENIGN = 300;

/**
 * Categories still SHORT of the floor, with the counts reached so far. Public reports quoting these
 * messages in full are rare (Talos's userspace OOM controller exists since 1.12; iSCSI session
 * recovery timeouts and etcd leader loss are usually paraphrased). This is a ratchet, not a pass:
 * the test fails if a listed category drops below its recorded counts, and fails again once it
 * reaches the floor so that the entry gets deleted. rules/README.md lists the same gap.
 */
const SHORT_OF_FLOOR: Record<string, { lines: number; sources: number }> = {
  EtcdLeaderLost: { lines: 9, sources: 3 },
  ISCSISessionRecoveryTimedOut: { lines: 2, sources: 2 },
  TalosOOMControllerKill: { lines: 4, sources: 2 },
};

const corpus = loadCorpus();
const failures = corpus.filter((l) => l.category !== 'benign');
const benign = corpus.filter((l) => l.category === 'benign');
const categories = [...new Set(failures.map((l) => l.category))].sort();

const decoder = new TalosDecoder({
  job: 'talos-kernel', lineFormat: 'msg', hostNames: {}, labelFields: [], staticLabels: {},
  futureToleranceMs: Number.MAX_SAFE_INTEGER / 2, metadata: false,
});
function event(l: CorpusLine, timeMs: number, seq: number): LogEvent {
  const ev = decoder.decode(renderCorpusLine(l, timeMs, seq), HOST, 0);
  if (typeof ev === 'string') throw new Error(`${l.at}: ${ev}`);
  return ev;
}


interface LoadedRule { def: AlertingRuleDef; set: RuleSet }
const rules = new Map<string, LoadedRule>();
const sets: RuleSet[] = [];

beforeAll(async () => {
  const files = [
    ...readdirSync(LIBRARY).filter((f) => f.endsWith('.yaml')).map((f) => join(LIBRARY, f)),
    join(ROOT, 'rules', 'talos-kernel.yaml'),
  ];
  for (const f of files) {
    const set = await loadRuleSet([f], { unsupported: 'error' });
    sets.push(set);
    for (const g of set.groups) for (const r of g.rules) if (r.kind === 'alert') rules.set(r.name, { def: r, set });
  }
});

function only(set: RuleSet, rule: string): RuleSet {
  return { ...set, groups: set.groups.map((g) => ({ ...g, rules: g.rules.filter((r) => r.name === rule) })).filter((g) => g.rules.length > 0) };
}

/** How a single real message is replayed so its rule can fire: once, or as often as threshold/`for` need. */
function replay(def: AlertingRuleDef): { count: number; spacingMs: number } {
  const threshold = Number(/>\s*([0-9.]+)\s*$/.exec(def.exprText)?.[1] ?? '0');
  const spacingMs = 10_000;
  // A `for` rule needs the message to keep coming (as the kernel repeats it) for `for` plus a range.
  const forCount = def.forMs > 0 ? Math.ceil((def.forMs + 60_000) / spacingMs) + 1 : 0;
  return { count: Math.max(Math.floor(threshold) + 1, forCount, 1), spacingMs };
}

describe('rule-library real-line corpus', () => {
  it(`has ≥ ${MIN_LINES} lines from ≥ ${MIN_SOURCES} sources per category (bar the SHORT_OF_FLOOR ratchet) and ≥ ${MIN_BENIGN} benign lines`, () => {
    const short: string[] = [];
    for (const c of categories) {
      const lines = failures.filter((l) => l.category === c);
      // A fixed-text message (conntrack full) counts once per report it was seen in.
      const distinct = new Set(lines.map((l) => `${l.source} ${l.text}`)).size;
      const sources = new Set(lines.map((l) => l.source)).size;
      const meets = distinct >= MIN_LINES && sources >= MIN_SOURCES;
      const known = SHORT_OF_FLOOR[c];
      if (known) {
        if (meets) short.push(`${c}: now meets the floor, delete it from SHORT_OF_FLOOR`);
        else if (distinct < known.lines || sources < known.sources) short.push(`${c}: ${distinct} lines, ${sources} sources, below its recorded ${known.lines}/${known.sources}`);
      } else if (!meets) short.push(`${c}: ${distinct} lines, ${sources} sources`);
    }
    for (const c of Object.keys(SHORT_OF_FLOOR)) if (!categories.includes(c)) short.push(`${c}: listed in SHORT_OF_FLOOR but has no corpus lines`);
    expect(short).toEqual([]);
    expect(new Set(benign.map((l) => l.text)).size).toBeGreaterThanOrEqual(MIN_BENIGN);
  });

  it('names only existing rules, covers every library content rule, and no line is both a failure and benign', () => {
    for (const c of categories) expect(rules.has(c), c).toBe(true);
    const contentRules = [...rules].filter(([, r]) => !r.def.file.endsWith('talos-kernel.yaml') && selectors(r.def.expr).some((s) => s.filters.length > 0)).map(([n]) => n);
    expect(contentRules.filter((n) => !categories.includes(n))).toEqual([]);
    const benignTexts = new Set(benign.map((l) => l.text));
    for (const l of failures) expect(benignTexts.has(l.text), l.at).toBe(false);
  });

  it.each(categories)('%s: every real line passes its selector and fires the rule', (category) => {
    const { def, set } = rules.get(category)!;
    const sels = selectors(def.expr);
    const { count, spacingMs } = replay(def);
    for (const line of failures.filter((l) => l.category === category)) {
      const first = event(line, START_MS, 1);
      expect(sels.some((s) => selectorAccepts(s, first)), `${line.at} should match ${category}: ${line.text}`).toBe(true);
      const sim = new Simulation(only(set, category), START_MS, { tickMs: 1000 });
      for (let i = 0; i < count; i++) sim.ingest(event(line, START_MS + i * spacingMs, i + 1));
      sim.finish();
      const firing = sim.changes.filter((c) => c.kind === 'firing' && c.alert.labels['alertname'] === category);
      expect(firing.length, `${line.at} did not fire ${category}: ${line.text}`).toBeGreaterThan(0);
      // Within its window: the alert fires no later than the last replayed line + `for` + one tick.
      expect(firing[0]!.atMs).toBeLessThanOrEqual(START_MS + (count - 1) * spacingMs + def.forMs + 1000);
      if (def.exprText.includes('by (host)')) expect(firing[0]!.alert.labels['host']).toBe(HOST);
    }
  });

  it('benign lines pass no content rule\'s selector and filters', () => {
    const hits: string[] = [];
    benign.forEach((line, i) => {
      const ev = event(line, START_MS + i * 1000, i + 1);
      for (const [name, { def }] of rules) {
        for (const sel of selectors(def.expr)) {
          // Volume/absence rules (no line filter) count every line by design.
          if (sel.filters.length > 0 && selectorAccepts(sel, ev)) hits.push(`${line.at} matches ${name}: ${line.text}`);
        }
      }
    });
    expect(hits).toEqual([]);
  });

  it('benign lines, replayed together one a second, make no rule pend or fire', () => {
    // Half a second off the tick grid, so the first evaluation already sees the first line.
    const events = benign.map((line, i) => event(line, START_MS + 500 + i * 1000, i + 1));
    for (const set of sets) {
      const sim = new Simulation(set, events[0]!.timeMs, { tickMs: 1000 });
      for (const ev of events) sim.ingest(ev);
      sim.advanceTo(events[events.length - 1]!.timeMs + 1000);
      expect(sim.changes.filter((c) => c.kind === 'pending' || c.kind === 'firing').map((c) => c.alert.labels['alertname'])).toEqual([]);
    }
  });
});
