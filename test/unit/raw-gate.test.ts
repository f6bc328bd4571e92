/**
 * Lazy decoding (src/talos/raw-gate.ts) must never change what the rules see:
 * the same records through the same rules with and without the gate give the
 * same matches, windows, alerts and ingest counters — over generated Talos
 * traffic and over fuzzed records full of JSON escapes, case variants,
 * nested values and broken JSON.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pino } from 'pino';
import { EventBus } from '../../src/bus.js';
import { RuleEngine } from '../../src/rules/engine.js';
import type { RuleSet } from '../../src/rules/rule-file.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { TalosDecoder, type DecoderOptions } from '../../src/talos/decode.js';
import { goJsonMarshal, type GoJsonValue } from '../../src/talos/go-json.js';
import { IngestPipeline } from '../../src/talos/ingest.js';
import { RawLineGate } from '../../src/talos/raw-gate.js';
import { RawRecord } from '../../src/talos/raw-record.js';
import { formatTalosTime } from '../../src/talos/time.js';
import { records } from '../../src/traffic/index.js';
import type { LogSelector } from '../../src/logql/ast.js';
import type { RejectReason } from '../../src/sources/ingest-target.js';
import { rulesFromYaml } from '../helpers/timeline.js';

const NOW = Date.UTC(2026, 1, 27, 3, 0, 0);

const EXTRA_RULES = `
groups:
  - name: gate
    rules:
      - alert: HtmlLiteral
        expr: sum by (host) (count_over_time({job="talos-kernel", talos_service="kernel"} |= "<oops & co>" [5m])) > 0
      - alert: QuotedLiteral
        expr: count_over_time({job="talos-kernel"} |= "say \\"hi\\" \\\\ now" [5m]) > 0
      - alert: FoldedKelvin
        expr: sum by (host, level) (count_over_time({talos_service=~"kube.*|machined", level=~"error|warn"} |~ "(?i)kelvin.*(failed|ſtop)" [5m])) > 0
      - alert: EveryEtcdLine
        expr: sum by (talos_service) (count_over_time({talos_service="etcd"} [5m])) > 2
      - alert: NotHealthy
        expr: sum(count_over_time({talos_service="apid"} != "healthy" [5m])) > 0
      - alert: NewlineLiteral
        expr: sum(count_over_time({job="talos-kernel"} |= "end\\nnext" [5m])) > 0
      - alert: ZoneRule
        expr: sum by (zone) (bytes_over_time({zone="a"} |= "disk" [5m])) > 0
      - alert: NeverRule
        expr: sum(count_over_time({job="talos-kernel"} != "" [5m])) > 0
      - alert: Astral
        expr: sum(count_over_time({job="talos-kernel"} |~ "(?i)𐐀rr" [5m])) > 0
`;

async function ruleSets(): Promise<RuleSet> {
  const seed = await loadRuleSet(['rules/talos-kernel.yaml'], { unsupported: 'error' });
  const extra = rulesFromYaml(EXTRA_RULES);
  return { groups: [...seed.groups, ...extra.groups], skipped: [], files: [...seed.files, ...extra.files] };
}

const DECODERS: Array<{ name: string; opts: DecoderOptions }> = [
  { name: 'defaults (msg, host_field node-name)', opts: { job: 'talos-kernel', lineFormat: 'msg', hostField: 'node-name', hostNames: { '10.0.0.6': 'w6' }, labelFields: [], staticLabels: {}, futureToleranceMs: 10_000, metadata: true } },
  { name: 'label field zone, static labels', opts: { job: 'talos-kernel', lineFormat: 'msg', hostField: '', hostNames: {}, labelFields: ['zone', 'node-name'], staticLabels: { cluster: 'c1' }, futureToleranceMs: 10_000, metadata: false } },
  { name: 'raw lines', opts: { job: 'talos-kernel', lineFormat: 'raw', hostField: 'node-name', hostNames: {}, labelFields: [], staticLabels: {}, futureToleranceMs: 10_000, metadata: false } },
];

interface Outcome {
  accepted: number;
  rejected: Record<string, number>;
  fallbacks: Record<string, number>;
  byHost: Record<string, number>;
  matches: Record<string, number>;
  windows: unknown;
  alerts: string[];
  skipped: number;
}

const REASONS: RejectReason[] = ['invalid_json', 'not_object', 'missing_msg'];

/** lazy: with the gate (slots: its recent-plan cache size; 1 makes every record check the one slot's owner), or false. */
async function run(rules: RuleSet, opts: DecoderOptions, lines: Array<[string, string]>, lazy: { slots?: number } | false): Promise<Outcome> {
  const engine = new RuleEngine({ resolvedRetentionMs: 15 * 60_000, externalLabels: {}, externalUrl: 'http://x', tickMs: 1000, now: () => NOW, autoFlush: false });
  engine.load(rules);
  const bus = new EventBus();
  bus.subscribe('rules', (ev) => engine.ingest(ev));
  const decoder = new TalosDecoder(opts);
  const pipeline = new IngestPipeline(decoder, bus, pino({ level: 'silent' }));
  const selectors = engine.loadedRules().map((r) => r.source.sources.map((s) => s.expr.selector)).flat();
  const gate = lazy === false ? undefined : new RawLineGate(opts, () => selectors, decoder.timeFallbacks, lazy.slots);
  pipeline.gate = gate;
  for (const [text, peer] of lines) pipeline.record(text, peer, 'tcp', NOW);
  engine.flush();
  engine.tick();
  const snap = engine.snapshot();
  return {
    accepted: pipeline.accepted,
    rejected: Object.fromEntries(REASONS.map((r) => [r, pipeline.rejected(r)])),
    fallbacks: { ...decoder.timeFallbacks },
    byHost: Object.fromEntries([...pipeline.linesByHost()].sort()),
    matches: Object.fromEntries(engine.loadedRules().map((r) => [r.def.name, r.matches])),
    windows: snap.rules.map((r) => ({ id: r.identity, series: [...r.series].sort((a, b) => (a.key < b.key ? -1 : 1)) })),
    alerts: engine
      .alerts()
      .map(({ alert }) => `${JSON.stringify(alert.labels)} ${alert.state} ${alert.value}`)
      .sort(),
    skipped: gate?.skipped ?? 0,
  };
}

async function same(rules: RuleSet, opts: DecoderOptions, lines: Array<[string, string]>): Promise<Outcome> {
  const eager = await run(rules, opts, lines, false);
  const lazy = await run(rules, opts, lines, {});
  const oneSlot = await run(rules, opts, lines, { slots: 1 });
  const { skipped: _none, ...eagerRest } = eager;
  const { skipped: _some, ...lazyRest } = lazy;
  const { skipped: _also, ...oneSlotRest } = oneSlot;
  expect(lazyRest).toEqual(eagerRest);
  expect(oneSlotRest).toEqual(eagerRest);
  return lazy;
}

// Characters that make escapes, folds and surrogates interesting, plus the rules' literal letters.
const ALPHABET = [
  ...'abcdeiklnorstuvfwhyzABCDEIKLNORST ', '<', '>', '&', '"', '\\', '\n', '\r', '\t', '\u0001', '/', '\u2028', 'ſ', 'K', 'ẞ', 'ß',
  '\ud801\udc00', '\ud801\udc28', '\ud800', 'é', 'parent transid verify failed', 'iscsi', 'ISCSI', 'error', 'timeout', 'kelvin', 'failed', 'ſtop',
  '<oops & co>', 'say "hi" \\ now', 'end\nnext', 'healthy', 'disk', 'rr',
];
const msgArbOf = (alphabet: readonly string[]): fc.Arbitrary<string> => fc.array(fc.constantFrom(...alphabet), { maxLength: 12 }).map((xs) => xs.join(''));
const msgArb = msgArbOf(ALPHABET);

/** Every character of s as \\uXXXX (random hex case): valid JSON no Go encoder writes, same string after decoding. */
function allEscaped(s: string, upper: boolean): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const h = s.charCodeAt(i).toString(16).padStart(4, '0');
    out += `\\u${upper ? h.toUpperCase() : h}`;
  }
  return `${out}"`;
}

type Enc = 'go' | 'js' | 'esc' | 'ESC';
function enc(s: string, how: Enc): string {
  if (how === 'go') return goJsonMarshal(s);
  if (how === 'js') return JSON.stringify(s);
  return allEscaped(s, how === 'ESC');
}

const valueArb: fc.Arbitrary<GoJsonValue> = fc.oneof(
  fc.constantFrom<GoJsonValue>('a', 'kelvin', '', 7, 1.5e3, -0, true, false, null, { n: { m: 1 } }, [1, 'x']),
  msgArb,
);

const recordArbOf = (msgArb: fc.Arbitrary<string>): fc.Arbitrary<[string, string]> => fc
  .record({
    msg: fc.oneof(msgArb, fc.constant<GoJsonValue>(5)),
    msgEnc: fc.constantFrom<Enc>('go', 'js', 'esc', 'ESC'),
    kernel: fc.boolean(),
    newline: fc.boolean(),
    service: fc.constantFrom<GoJsonValue>('kubelet', 'kube-proxy', 'etcd', 'apid', 'machined', '', 3, 'k\u00e9'),
    level: fc.constantFrom<GoJsonValue | undefined>('info', 'error', 'warn', undefined, 1),
    time: fc.constantFrom<string | number | undefined>(
      formatTalosTime(NOW - 1000, 123456),
      formatTalosTime(NOW - 60_000),
      formatTalosTime(NOW - 61_000, 5),
      formatTalosTime(NOW + 3_600_000),
      '2026-02-27T02:59:59.1234567891Z',
      '2026-02-27T02:59:59+01:00',
      '2026-02-31T00:00:00Z',
      'yesterday',
      undefined,
      12,
    ),
    node: fc.constantFrom<GoJsonValue | undefined>('n1', 'n2', '', undefined, 'n\\1', 4),
    zone: fc.constantFrom<GoJsonValue | undefined>('a', 'b', undefined, null, 1, true, { x: 1 }),
    extra: fc.dictionary(fc.constantFrom('a', 'msg', 'talos-level', 'zz', 'node-name', 'ka', 'xmsg', 'msgx', 'talos-levelx', 'talos-'), valueArb, { maxKeys: 3 }),
    keyEsc: fc.boolean(),
    damage: fc.constantFrom('none', 'none', 'none', 'truncate', 'space', 'trailing', 'dupMsg', 'array', 'prefix'),
    cut: fc.nat(),
    peer: fc.constantFrom('10.0.0.5', '10.0.0.6'),
  })
  .map((r): [string, string] => {
    const parts: string[] = [];
    const put = (k: string, v: GoJsonValue | undefined, raw?: string): void => {
      if (v === undefined && raw === undefined) return;
      const key = r.keyEsc && k === 'talos-service' ? '"talos-\\u0073ervice"' : goJsonMarshal(k);
      parts.push(`${key}:${raw ?? goJsonMarshal(v!)}`);
    };
    for (const [k, v] of Object.entries(r.extra)) put(k, v);
    const msg = typeof r.msg === 'string' && r.kernel && r.newline ? `${r.msg}\n` : r.msg;
    put('msg', msg, typeof msg === 'string' ? enc(msg, r.msgEnc) : undefined);
    if (!r.kernel) put('talos-service', r.service);
    put('talos-level', r.level);
    put('talos-time', r.time);
    put('node-name', r.node);
    put('zone', r.zone);
    let text = `{${parts.join(',')}}`;
    switch (r.damage) {
      case 'truncate': text = text.slice(0, r.cut % (text.length + 1)); break;
      case 'space': text = text.replace(':', ' : '); break;
      case 'trailing': text = `${text} `; break;
      case 'dupMsg': text = text.replace('{', '{"msg":"parent transid verify failed",'); break;
      case 'array': text = `[${text}]`; break;
      case 'prefix': text = `\ufeff${text}`; break;
      default: break;
    }
    return [text, r.peer];
  });
const recordArb = recordArbOf(msgArb);

describe('RawRecord (the raw scanner)', () => {
  it('accepts only what JSON.parse accepts as a flat object with a string msg, and finds the same values', () => {
    fc.assert(
      fc.property(recordArb, ([text]) => {
        const rec = new RawRecord(['msg', 'talos-service', 'talos-level', 'talos-time', 'node-name', 'zone']);
        if (!rec.scan(text)) return;
        const parsed = JSON.parse(text) as Record<string, unknown>;
        expect(typeof parsed.msg).toBe('string');
        rec.keys.forEach((k, i) => {
          const v = parsed[k];
          if (typeof v === 'string' && rec.escaped[i] === 0) expect(rec.valueOf(i)).toBe(v);
          if (v === undefined || v === null) expect(rec.valueOf(i)).toBeUndefined();
          if (typeof v === 'number' || typeof v === 'boolean') expect(rec.valueOf(i)).toBe(String(v));
        });
      }),
      { numRuns: 3000 },
    );
  });

  it('never accepts a string JSON.parse rejects (random JSON-ish text)', () => {
    const tokens = ['{', '}', '[', ']', '"', ':', ',', '\\', 'u', '00', 'e', '+', '-', '0', '1', '.', 'true', 'null', 'msg', '"msg":', ' ', '\u0001', 'a'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...tokens), { maxLength: 30 }), (xs) => {
        const text = xs.join('');
        const rec = new RawRecord(['msg']);
        if (!rec.scan(text)) return;
        const v = JSON.parse(text) as unknown;
        expect(v !== null && typeof v === 'object' && !Array.isArray(v) && typeof (v as Record<string, unknown>).msg === 'string').toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('accepts exactly the flat objects of its grammar (the regular expression it replaced) with a string msg', () => {
    const KEY = String.raw`"[^"\\\x00-\x1f]*"`;
    const STR = String.raw`"[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*"`;
    const VAL = String.raw`(?:${STR}|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null)`;
    const flat = new RegExp(String.raw`^\{${KEY}:${VAL}(?:,${KEY}:${VAL})*\}$`);
    const tokens = ['{', '}', '"', ':', ',', '\\', 'u', '00', 'aF', 'e', 'E', '+', '-', '0', '1', '.', 'true', 'fals', 'false', 'null', 'msg', '"msg":', '"msg":"', ' ', '\u0001', 'a', '\ud800', 'n', 't', '/', 'x'];
    const rec = new RawRecord(['msg', 'n']);
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...tokens), { maxLength: 24 }), (xs) => {
        const text = xs.join('');
        const ok = rec.scan(text);
        const want = flat.test(text) && typeof (JSON.parse(text) as Record<string, unknown>).msg === 'string';
        expect(ok).toBe(want);
      }),
      { numRuns: 30_000 },
    );
    // Inside a string value and as a scalar value, where most of the grammar is.
    const piece = fc.array(fc.constantFrom(...tokens), { maxLength: 8 }).map((xs) => xs.join(''));
    fc.assert(
      fc.property(piece, piece, (a, b) => {
        for (const text of [`{"msg":"${a}"}`, `{"n":${b},"msg":"x${a}"}`, `{"msg":"a","n":${b}}`]) {
          const want = flat.test(text) && typeof (JSON.parse(text) as Record<string, unknown>).msg === 'string';
          expect(rec.scan(text), text).toBe(want);
        }
      }),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(recordArb, ([text]) => {
        const want = flat.test(text) && typeof (JSON.parse(text) as Record<string, unknown>).msg === 'string';
        expect(rec.scan(text)).toBe(want);
      }),
      { numRuns: 3000 },
    );
  });

  it('falls back on nested values, whitespace, escaped keys and broken JSON', () => {
    const rec = new RawRecord(['msg']);
    expect(rec.scan('{"msg":"a","n":{"x":1}}')).toBe(false);
    expect(rec.scan('{"msg": "a"}')).toBe(false);
    expect(rec.scan('{"m\\u0073g":"a"}')).toBe(false);
    expect(rec.scan('{"msg":"a\\x"}')).toBe(false);
    expect(rec.scan('{"msg":"a","n":01}')).toBe(false);
    expect(rec.scan('{"msg":"a\u0001"}')).toBe(false);
    expect(rec.scan('{"msg":"a\\"}')).toBe(false);
    expect(rec.scan('{"msg":"a\\"","n":-1.5e+3,"t":true,"f":false,"z":null}')).toBe(true);
    expect(rec.escaped[0]).toBe(1);
    expect(rec.scan('{"msg":"a","msg":2}')).toBe(false);
  });
});

describe('lazy decoding gives the rules exactly what full decoding gives them', async () => {
  const rules = await ruleSets();
  const seed = await loadRuleSet(['rules/talos-kernel.yaml'], { unsupported: 'error' });

  for (const d of DECODERS) {
    it(`generated Talos traffic with failure bursts (${d.name})`, async () => {
      const lines: Array<[string, string]> = [];
      const failures = (['btrfs-transid', 'iscsi-error', 'iscsi-session-timeout', 'oom', 'nvme-timeout'] as const).map((kind, i) => ({ atMs: 200 + i * 250, kind, node: i % 3 }));
      for (const rec of records({ nodes: 3, ratePerSec: 4000, maxLines: 6000, seed: 11, startTimeMs: NOW - 60_000, failures })) {
        lines.push([rec.json, `10.0.0.${5 + rec.node}`]);
      }
      const all = await same(rules, d.opts, lines);
      const seedOnly = await same(seed, d.opts, lines);
      // The test means something: lines skipped JSON.parse (with the seed's rules nearly all), and rules matched.
      expect(all.skipped).toBeGreaterThan(0);
      expect(seedOnly.skipped).toBeGreaterThan(lines.length * 0.9);
      expect(Object.values(all.matches).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      expect(Object.values(seedOnly.matches).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    });

    it(`fuzzed records: escapes, folds, surrogates, nesting, damage (${d.name})`, async () => {
      let skippedAny = 0;
      let matchedAny = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(recordArb, { minLength: 1, maxLength: 40 }), async (lines) => {
          const out = await same(rules, d.opts, lines);
          skippedAny += out.skipped;
          matchedAny += Object.values(out.matches).reduce((a, b) => a + b, 0);
        }),
        { numRuns: 250 },
      );
      expect(skippedAny).toBeGreaterThan(0);
      expect(matchedAny).toBeGreaterThan(0);
    });
  }

  it('tells streams apart record by record (service, level, host field, peer), whatever the recent-plan cache size', async () => {
    const opts = DECODERS[0]!.opts;
    const narrow = rulesFromYaml(`
groups:
  - name: narrow
    rules:
      - alert: K
        expr: count_over_time({talos_service="kubelet", level="error", host="n1"} |= "kelvin" [5m]) > 0
      - alert: W6
        expr: count_over_time({host="w6"} |= "kelvin" [5m]) > 0
`);
    const engine = new RuleEngine({ resolvedRetentionMs: 1, externalLabels: {}, externalUrl: '', tickMs: 1000, now: () => NOW });
    engine.load(narrow);
    const sel = engine.loadedRules().map((r) => r.source.sources.map((s) => s.expr.selector)).flat();
    const t = formatTalosTime(NOW);
    const rec = (service: string, level: string, node: string | undefined): string =>
      `{"msg":"kelvin","talos-service":"${service}","talos-level":"${level}",${node === undefined ? '' : `"node-name":"${node}",`}"talos-time":"${t}"}`;
    for (const slots of [1, 2, 64]) {
      const decoder = new TalosDecoder(opts);
      const gate = new RawLineGate(opts, () => sel, decoder.timeFallbacks, slots);
      // Each record after the first differs from the one before in one thing only.
      const seq: Array<[string, string, boolean]> = [
        [rec('kubelet', 'info', 'n1'), '10.0.0.5', true],
        [rec('kubelet', 'error', 'n1'), '10.0.0.5', false],
        [rec('kubelet', 'error', 'n2'), '10.0.0.5', true],
        [rec('kubelet', 'error', 'n1'), '10.0.0.5', false],
        [rec('kubeles', 'error', 'n1'), '10.0.0.5', true],
        [rec('kubeles', 'error', undefined), '10.0.0.5', true],
        [rec('kubeles', 'error', undefined), '10.0.0.6', false], // host w6 from the peer
        [rec('kubeles', 'error', ''), '10.0.0.6', false],
        [rec('kubeles', 'error', 'w7'), '10.0.0.6', true],
        [rec('kubelet', 'errox', 'n1'), '10.0.0.5', true],
        [rec('kubelet', 'error', 'n1'), '10.0.0.5', false],
      ];
      expect(seq.map(([text, peer]) => gate.skip(text, peer, NOW))).toEqual(seq.map(([, , skip]) => skip));
    }
    expect(() => new RawLineGate(opts, () => sel, new TalosDecoder(opts).timeFallbacks, 3)).toThrow(/power of two/);
  });

  it('follows rule reloads (a new selector array recompiles the gate)', async () => {
    const opts = DECODERS[0]!.opts;
    const decoder = new TalosDecoder(opts);
    let selectors: LogSelector[] = [];
    const gate = new RawLineGate(opts, () => selectors, decoder.timeFallbacks);
    const line = `{"msg":"parent transid verify failed","talos-level":"error","talos-time":"${formatTalosTime(NOW)}"}`;
    expect(gate.skip(line, '10.0.0.5', NOW)).toBe(true); // no rules: nothing can match
    const engine = new RuleEngine({ resolvedRetentionMs: 1, externalLabels: {}, externalUrl: '', tickMs: 1000, now: () => NOW });
    engine.load(rules);
    selectors = engine.loadedRules().map((r) => r.source.sources.map((s) => s.expr.selector)).flat();
    expect(gate.skip(line, '10.0.0.5', NOW)).toBe(false);
  });
});

/**
 * Many rules over overlapping streams sharing their literals (the gate's one
 * automaton pass serves them all), case-insensitive and end-anchored
 * literals, and literals with a quote that a raw scan could find running
 * over the msg's opening or closing quote (`"kel`, `tail"`): in the decoded
 * line they are only where the msg has an escaped quote.
 */
function manyRulesYaml(): string {
  const words = ['error', 'timeout', 'failed', 'lost', 'kelvin', 'iscsi', 'disk', 'ſtop', 'healthy', 'rr', 'tail'];
  const selectors = ['{job="talos-kernel"}', '{talos_service="kernel"}', '{talos_service=~"kube.*|etcd"}', '{level="error"}', '{job="talos-kernel", level=~"warn|info"}'];
  const exprs: string[] = [];
  for (let i = 0; i < 60; i++) {
    const a = words[i % words.length]!;
    const b = words[(i * 7 + 3) % words.length]!;
    const forms = [`|= "${a}" |= "${b}"`, `|~ "(?i)${a}.*${b}"`, `|~ "(?i)${a}$"`, `|= "${a}" != "${b}"`, `|~ "${a}|${b}"`, `|~ "(?i)(${a}|${b})"`];
    exprs.push(`sum by (host) (count_over_time(${selectors[i % selectors.length]} ${forms[i % forms.length]} [5m])) > 0`);
  }
  exprs.push('sum(count_over_time({job="talos-kernel"} |= "tail\\"" [5m])) > 0');
  exprs.push('sum(count_over_time({job="talos-kernel"} |= "\\"kel" [5m])) > 0');
  exprs.push('sum(count_over_time({job="talos-kernel"} |~ "(?i)TAIL\\"$" [5m])) > 0');
  exprs.push('sum(count_over_time({job="talos-kernel"} |~ "(?i)error\\"," [5m])) > 0');
  const rules = exprs.map((e, i) => `      - alert: Many${i}\n        expr: ${JSON.stringify(e)}`).join('\n');
  return `groups:\n  - name: many\n    rules:\n${rules}\n`;
}

describe('lazy decoding with many rules sharing literals', () => {
  const many = rulesFromYaml(manyRulesYaml());
  const extra = ['tail', 'TAIL', '"kel', 'tail"', 'error",', 'ẞtop', 'Stop', 'ſtop', 'K'];
  const manyRecords = recordArbOf(msgArbOf([...ALPHABET, ...extra]));

  it('loads every generated rule (the test exercises what it says)', () => {
    expect(many.groups[0]!.rules.length).toBe(64);
  });

  for (const d of DECODERS) {
    it(`fuzzed records (${d.name})`, async () => {
      let skippedAny = 0;
      let matchedAny = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(manyRecords, { minLength: 1, maxLength: 40 }), async (lines) => {
          const out = await same(many, d.opts, lines);
          skippedAny += out.skipped;
          matchedAny += Object.values(out.matches).reduce((a, b) => a + b, 0);
        }),
        { numRuns: 150 },
      );
      expect(skippedAny).toBeGreaterThan(0);
      expect(matchedAny).toBeGreaterThan(0);
    });
  }

  it('skips a literal only found across the msg quotes, decodes one inside it', async () => {
    const opts = DECODERS[0]!.opts;
    const decoder = new TalosDecoder(opts);
    const engine = new RuleEngine({ resolvedRetentionMs: 1, externalLabels: {}, externalUrl: '', tickMs: 1000, now: () => NOW });
    engine.load({ groups: [{ ...many.groups[0]!, rules: many.groups[0]!.rules.slice(-4) }], skipped: [], files: many.files });
    const sel = engine.loadedRules().map((r) => r.source.sources.map((s) => s.expr.selector)).flat();
    const gate = new RawLineGate(opts, () => sel, decoder.timeFallbacks);
    const t = formatTalosTime(NOW);
    // `tail"` runs over the closing quote, `"kel` over the opening one, `error",` over both and a comma: none is in the line.
    expect(gate.skip(`{"msg":"kelvin on tail","talos-time":"${t}"}`, '10.0.0.5', NOW)).toBe(true);
    expect(gate.skip(`{"msg":"error","talos-time":"${t}"}`, '10.0.0.5', NOW)).toBe(true);
    // Inside the msg (escaped quotes), they are.
    expect(gate.skip(`{"msg":"a tail\\" b","talos-time":"${t}"}`, '10.0.0.5', NOW)).toBe(false);
    expect(gate.skip(`{"msg":"\\"KELVIN","talos-time":"${t}"}`, '10.0.0.5', NOW)).toBe(false);
  });
});
