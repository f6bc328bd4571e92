/**
 * Property/fuzz tests for the three places where text from outside is parsed:
 * the ingest line path (socket bytes → LineSplitter → TalosDecoder → event or
 * counted rejection), the LogQL parser, and the alert template engine.
 *
 * What they prove: no exception escapes (or only the documented error type),
 * every framed line ends as exactly one event or one counted rejection, and no
 * input stalls. The time bound is a stall detector, not a speed test: it is
 * generous, and an input over it is re-run once so that a scheduling hiccup on
 * a shared machine does not fail the test (a real stall repeats).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { EventBus } from '../../src/bus.js';
import { FAILURE_KINDS, records } from '../../src/traffic/index.js';
import { LogQLError } from '../../src/logql/ast.js';
import { parseExpr } from '../../src/logql/parse.js';
import { MAX_OUTPUT, TemplateError, compileTemplate, type TemplateData } from '../../src/gotemplate/template.js';
import { LineSplitter } from '../../src/sources/line-splitter.js';
import type { RejectReason } from '../../src/sources/ingest-target.js';
import { TOO_DEEP_VALUE, TalosDecoder, type DecoderOptions } from '../../src/talos/decode.js';
import { IngestPipeline } from '../../src/talos/ingest.js';
import type { LogEvent } from '../../src/log-event.js';

// Guards against blow-ups (exponential or unbounded work), not speed: far above linear work on a
// loaded machine, far below what a blow-up costs.
const STALL_MS = 1500;

/** V8's full GC, for measuring live memory (the flag can be turned on at run time). */
function fullGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Run `fn` under the stall bound; over it, once more, and fail only if it is slow again. */
function bounded<T>(what: string, fn: () => T): T {
  let t0 = performance.now();
  let result = fn();
  if (performance.now() - t0 > STALL_MS) {
    t0 = performance.now();
    result = fn();
    const ms = performance.now() - t0;
    if (ms > STALL_MS) throw new Error(`${what} took ${ms.toFixed(0)} ms twice (bound ${STALL_MS} ms)`);
  }
  return result;
}

// ------------------------------------------------------------------ inputs

const NOW = Date.now();

/** Real Talos records: every message variant the generator knows, failures included. */
const TALOS_RECORDS: string[] = [
  ...[...records({
    nodes: 4,
    ratePerSec: 2000,
    maxLines: 400,
    startTimeMs: NOW - 60_000,
    seed: 9,
    failures: FAILURE_KINDS.filter((k) => k !== 'silence').map((kind, i) => ({ atMs: i * 5, kind, node: i % 4 })),
  })].map((r) => r.json),
  // The spec's wire examples.
  '{"clock":6252819,"facility":"user","msg":"[talos] task startAllServices (1/1): waiting for 6 services\\n","priority":"warning","seq":711,"talos-level":"warn","talos-time":"2021-11-26T16:53:21.3258698Z"}',
  '{"caller":"mvcc/kvstore_compaction.go:57","compact-revision":34567,"msg":"finished scheduled compaction","talos-level":"info","talos-service":"etcd","talos-time":"2021-10-19T14:53:05.815Z","took":"21.041639ms"}',
  '{"msg":"2025/08/27 12:01:03.645887 machined OK [/machine.MachineService/Processes] 18.366845ms unary Success","node-name":"talos-519-vmy","talos-level":"info","talos-service":"machined","talos-time":"2025-08-27T12:01:03.645922392Z"}',
];

/** Text-level edits: insert, delete, replace or duplicate a range (positions taken modulo the length). */
type Edit = { op: 'insert' | 'replace'; at: number; len: number; text: string } | { op: 'delete' | 'dup'; at: number; len: number };

function editArb(tokens: fc.Arbitrary<string>): fc.Arbitrary<Edit> {
  const at = fc.nat();
  const len = fc.integer({ min: 0, max: 12 });
  return fc.oneof(
    fc.record({ op: fc.constant('insert' as const), at, len, text: tokens }),
    fc.record({ op: fc.constant('replace' as const), at, len, text: tokens }),
    fc.record({ op: fc.constant('delete' as const), at, len }),
    fc.record({ op: fc.constant('dup' as const), at, len }),
  );
}

function applyEdits(text: string, edits: readonly Edit[]): string {
  let s = text;
  for (const e of edits) {
    const at = s.length === 0 ? 0 : e.at % (s.length + 1);
    const end = Math.min(s.length, at + e.len);
    switch (e.op) {
      case 'insert':
        s = s.slice(0, at) + e.text + s.slice(at);
        break;
      case 'replace':
        s = s.slice(0, at) + e.text + s.slice(end);
        break;
      case 'delete':
        s = s.slice(0, at) + s.slice(end);
        break;
      case 'dup':
        s = s.slice(0, end) + s.slice(at, end) + s.slice(end);
        break;
    }
  }
  return s;
}

const JSON_TOKENS = fc.oneof(
  fc.constantFrom('{', '}', '[', ']', ':', ',', '"', '\\', '\\"', '\\u', '\\ud800', '\\u0000', 'null', 'true', '1e999', '-0', '\n', '\r', '\u2028', '\uFFFD', '\u00e9', '\ud83d\ude00'),
  fc.constantFrom('"msg"', '"talos-time"', '"talos-level"', '"talos-service"', '"__proto__"', '"constructor"', '"2026-01-01T00:00:00.123456789Z"', '"9999-12-31T23:59:60.999999999+23:59"'),
  fc.string({ unit: 'binary', maxLength: 8 }),
);

/** A record with field-level damage: a key set to an odd value, removed, added, or nested deeply. */
const fieldMutation = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    key: fc.constantFrom('msg', 'talos-time', 'talos-level', 'talos-service', 'facility', 'seq', '__proto__', 'constructor', 'toString', ''),
    value: fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.constantFrom('', '\n', '\r\n', 'x\n', '0000-00-00T00:00:00Z', '2026-13-40T25:61:61Z', '2099-01-01T00:00:00Z', '1970-01-01T00:00:00Z', '2026-01-01T00:00:00.Z', '2026-01-01 00:00:00+01:00'),
    ),
  }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom('msg', 'talos-time', 'talos-level', 'talos-service') }),
  fc.record({ kind: fc.constant('nest' as const), key: fc.constantFrom('facility', 'priority', 'caller', 'extra'), depth: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.constant(20_000)) }),
);
type FieldMutation = typeof fieldMutation extends fc.Arbitrary<infer T> ? T : never;

function mutateFields(json: string, muts: readonly FieldMutation[]): string {
  const rec = JSON.parse(json) as Record<string, unknown>;
  let tail = '';
  for (const m of muts) {
    if (m.kind === 'set') {
      // defineProperty: a plain assignment to "__proto__" would change the prototype, not add the field.
      Object.defineProperty(rec, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
    } else if (m.kind === 'delete') {
      delete rec[m.key];
    } else {
      // Built as text: JSON.stringify itself cannot go this deep.
      tail += `,"${m.key}-deep":${'['.repeat(m.depth)}${']'.repeat(m.depth)}`;
    }
  }
  const body = JSON.stringify(rec);
  return tail === '' ? body : body === '{}' ? `{${tail.slice(1)}}` : body.slice(0, -1) + tail + '}';
}

/** Real records, damaged at the text level or the field level, and text that was never a record. */
const recordText: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...TALOS_RECORDS) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...TALOS_RECORDS), fc.array(editArb(JSON_TOKENS), { minLength: 1, maxLength: 4 })).map(([r, e]) => applyEdits(r, e)) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...TALOS_RECORDS), fc.array(fieldMutation, { minLength: 1, maxLength: 3 })).map(([r, m]) => mutateFields(r, m)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null') },
);

// ------------------------------------------------------------------ (a) ingest line path

const REASONS: readonly RejectReason[] = ['invalid_json', 'not_object', 'missing_msg', 'invalid_utf8', 'too_long', 'fragment', 'empty', 'not_allowed'];

const DECODERS: Array<{ name: string; opts: DecoderOptions }> = [
  { name: 'msg + metadata', opts: { job: 'talos-kernel', lineFormat: 'msg', hostNames: {}, labelFields: [], staticLabels: {}, futureToleranceMs: 10_000, metadata: true } },
  {
    name: 'raw + label fields',
    opts: { job: 'talos', lineFormat: 'raw', hostNames: { '10.0.0.5': 'node-a' }, labelFields: ['facility', 'extra-deep', 'node-name'], staticLabels: { cluster: 'c' }, futureToleranceMs: 0, metadata: false },
  },
];

/** What a record must become, read off the JSON independently of the decoder. */
function expectedOutcome(text: string): 'event' | RejectReason {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'invalid_json';
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not_object';
  return typeof (v as Record<string, unknown>).msg === 'string' ? 'event' : 'missing_msg';
}

function fieldText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v !== 'object') return String(v);
  try {
    return JSON.stringify(v);
  } catch {
    return TOO_DEEP_VALUE;
  }
}

function checkEvent(ev: LogEvent, text: string, opts: DecoderOptions, peer: string, receivedMs: number): void {
  const rec = JSON.parse(text) as Record<string, unknown>;
  const msg = rec.msg as string;
  if (opts.lineFormat === 'raw') expect(ev.line).toBe(text);
  else expect(ev.line).toBe(msg.endsWith('\r\n') ? msg.slice(0, -2) : msg.endsWith('\n') ? msg.slice(0, -1) : msg);
  expect(Number.isInteger(ev.timeMs)).toBe(true);
  expect(ev.timeMs).toBeLessThanOrEqual(receivedMs + opts.futureToleranceMs);
  expect(Number.isInteger(ev.timeNsRem) && ev.timeNsRem >= 0 && ev.timeNsRem < 1_000_000).toBe(true);
  const service = rec['talos-service'];
  expect(ev.source).toBe(typeof service === 'string' ? 'service' : 'kernel');
  const labels = ev.stream.labels;
  expect(labels.job).toBe(opts.job);
  expect(labels.host).toBe(opts.hostNames[peer] ?? peer);
  expect(labels.talos_service).toBe(typeof service === 'string' ? service : 'kernel');
  for (const v of Object.values(labels)) expect(typeof v).toBe('string');
  for (const [k, v] of Object.entries(opts.staticLabels)) expect(labels[k]).toBe(v);
  if (opts.metadata) {
    const md = ev.metadata ?? {};
    for (const v of Object.values(md)) expect(typeof v).toBe('string');
    for (const k of Object.keys(rec)) {
      const v = rec[k];
      // "__proto__" cannot be an own key of a plain object; it is the one field that is lost.
      if (['msg', 'talos-time', 'talos-level', 'talos-service', '__proto__'].includes(k) || v === null || v === undefined) continue;
      expect(md[k]).toBe(fieldText(v));
    }
  } else {
    expect(ev.metadata).toBeUndefined();
  }
}

/** One framed line's fate, as the splitter reports it. */
type Outcome = { line: string } | { reject: RejectReason };

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The framing model, written from the contract rather than the code: split the
 * whole byte stream on LF; a line longer than the limit (CR included) is
 * `too_long`, then one trailing CR goes, empty is `empty`, bytes that are not
 * UTF-8 are `invalid_utf8`; an unterminated tail is a `fragment` (or `too_long`).
 */
function frameModel(bytes: Buffer, max: number): Outcome[] {
  const out: Outcome[] = [];
  let start = 0;
  for (;;) {
    const nl = bytes.indexOf(0x0a, start);
    const end = nl === -1 ? bytes.length : nl;
    const raw = bytes.subarray(start, end);
    if (nl === -1) {
      if (raw.length > max) out.push({ reject: 'too_long' });
      else if (raw.length > 0) out.push({ reject: 'fragment' });
      return out;
    }
    if (raw.length > max) out.push({ reject: 'too_long' });
    else {
      const body = raw.length > 0 && raw[raw.length - 1] === 0x0d ? raw.subarray(0, -1) : raw;
      if (body.length === 0) out.push({ reject: 'empty' });
      else {
        let text: string | undefined;
        try {
          text = utf8Strict.decode(body);
        } catch {
          text = undefined;
        }
        out.push(text === undefined ? { reject: 'invalid_utf8' } : { line: text });
      }
    }
    start = nl + 1;
  }
}

const invalidUtf8 = fc
  .tuple(
    fc.string({ maxLength: 20 }),
    fc.constantFrom([0xff], [0xc3], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]),
    fc.string({ maxLength: 20 }),
  )
  .map(([a, bad, b]) => Buffer.concat([Buffer.from(a), Buffer.from(bad), Buffer.from(b)]));

const segment: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 5, arbitrary: recordText.map((s) => Buffer.from(s)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: invalidUtf8 },
  { weight: 1, arbitrary: fc.constantFrom('', '\r', ' ', '{}', '[]', 'null', '"x"', '{"msg":1}', '{"msg":"\\n"}', '\uFEFF{"msg":"bom"}').map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 1, max: 3000 }), fc.constantFrom(0x61, 0xff, 0x7b, 0x0d)).map(([n, b]) => Buffer.alloc(n, b)) },
);

const wire = fc.record({
  lines: fc.array(fc.tuple(segment, fc.constantFrom('\n', '\r\n', '\n\n', '')), { maxLength: 30 }),
  tail: fc.option(segment, { nil: undefined }),
  chunkSizes: fc.array(fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 4096 })), { minLength: 1, maxLength: 12 }),
  maxLineBytes: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 64, max: 2048 })),
});

function chunksOf(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0, i = 0; p < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    // Copies: a socket hands out fresh buffers; the splitter must not rely on a chunk outliving the call.
    out.push(Buffer.from(bytes.subarray(p, p + n)));
    p += n;
  }
  return out;
}

describe('fuzz: ingest line path', () => {
  it('TalosDecoder.decode never throws, and classifies every record as its JSON says', () => {
    const decoders = DECODERS.map((d) => ({ ...d, decoder: new TalosDecoder(d.opts) }));
    fc.assert(
      fc.property(recordText, fc.constantFrom('10.0.0.5', '127.0.0.1', '::1'), (text, peer) => {
        for (const { opts, decoder } of decoders) {
          const receivedMs = Date.now();
          const res = bounded(`decode of ${text.length} chars`, () => decoder.decode(text, peer, receivedMs));
          const want = expectedOutcome(text);
          if (typeof res === 'string') {
            expect(REASONS).toContain(res);
            expect(res).toBe(want);
          } else {
            expect(want).toBe('event');
            checkEvent(res, text, opts, peer, receivedMs);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('a record nested 20 000 deep decodes (JSON.stringify would overflow the stack) instead of crashing the process', () => {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const text = `{"msg":"x","node-name":${deep}}`;
    // Whether V8 can stringify this deep depends on the Node version's stack (Node 20 cannot,
    // Node 26 can): the decoder must give the exact text when it can, the marker when it cannot.
    let want: string;
    try {
      want = JSON.stringify(JSON.parse(deep));
    } catch {
      want = TOO_DEEP_VALUE;
    }
    for (const d of DECODERS) {
      const ev = new TalosDecoder(d.opts).decode(text, '10.0.0.5', Date.now());
      expect(typeof ev).toBe('object');
      const e = ev as LogEvent;
      if (d.opts.metadata) expect(e.metadata?.['node-name']).toBe(want);
      else expect(e.stream.labels.node_name).toBe(want);
    }
  });

  it('LineSplitter frames arbitrary chunked bytes exactly as the framing model says, and each line ends as one event or one counted rejection', () => {
    fc.assert(
      fc.property(wire, ({ lines, tail, chunkSizes, maxLineBytes }) => {
        const parts: Buffer[] = [];
        for (const [seg, sep] of lines) parts.push(seg, Buffer.from(sep));
        if (tail !== undefined) parts.push(tail);
        const bytes = Buffer.concat(parts);
        const chunks = chunksOf(bytes, chunkSizes);
        const want = frameModel(bytes, maxLineBytes);

        const run = (): { got: Outcome[]; events: number; rejected: number; pipeline: IngestPipeline } => {
          const bus = new EventBus();
          let events = 0;
          bus.subscribe('count', () => events++);
          const pipeline = new IngestPipeline(new TalosDecoder(DECODERS[0]!.opts), bus, pino({ level: 'silent' }));
          const got: Outcome[] = [];
          const splitter = new LineSplitter(maxLineBytes, {
            line(text) {
              got.push({ line: text });
              pipeline.record(text, '10.0.0.5', 'tcp', Date.now());
            },
            reject(reason) {
              got.push({ reject: reason });
              pipeline.reject(reason, '10.0.0.5', 'tcp');
            },
          });
          for (const c of chunks) splitter.push(c);
          expect(splitter.buffered).toBeLessThanOrEqual(maxLineBytes);
          splitter.end();
          expect(splitter.buffered).toBe(0);
          const rejected = REASONS.reduce((n, r) => n + pipeline.rejected(r), 0);
          return { got, events, rejected, pipeline };
        };
        const { got, events, rejected, pipeline } = bounded(`framing ${bytes.length} bytes in ${chunks.length} chunks`, run);

        expect(got).toEqual(want);
        // Downstream: each framed line is one event or one counted rejection, never both, never neither.
        expect(events + rejected).toBe(want.length);
        expect(pipeline.accepted).toBe(events);
        const framed = want.filter((o): o is { line: string } => 'line' in o);
        expect(events).toBe(framed.filter((o) => expectedOutcome(o.line) === 'event').length);
      }),
      { numRuns: 400 },
    );
  });

  it('a line trickled one byte per chunk costs about its length in memory, not an object per byte', () => {
    // 4 × 200 000 one-byte chunks, lines held open: a list of per-chunk copies keeps ~85 MB of Buffer
    // objects alive; one growable buffer per line keeps ~1 MB. Measured live, after a full GC each side.
    const gc = fullGc();
    gc();
    const before = process.memoryUsage();
    const src = Buffer.alloc(65_536, 0x61);
    const splitters: LineSplitter[] = [];
    for (let c = 0; c < 4; c++) {
      const s = new LineSplitter(256 * 1024, { line: () => undefined, reject: () => undefined });
      for (let i = 0; i < 200_000; i++) s.push(src.subarray(i % 60_000, (i % 60_000) + 1));
      splitters.push(s);
    }
    gc();
    const after = process.memoryUsage();
    const live = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    expect(splitters.map((s) => s.buffered)).toEqual([200_000, 200_000, 200_000, 200_000]);
    expect(live).toBeLessThan(16 * 1024 * 1024);
  });

  it('a line split at every byte boundary, multi-byte characters included, comes out whole', () => {
    const text = '{"msg":"ünïcødé 🚀 \\u00e9 — BTRFS error","talos-level":"error","talos-time":"2026-01-01T00:00:00Z"}';
    const bytes = Buffer.from(`${text}\n`);
    for (let cut = 1; cut < bytes.length; cut++) {
      const got: Outcome[] = [];
      const s = new LineSplitter(1024, { line: (t) => got.push({ line: t }), reject: (r) => got.push({ reject: r }) });
      s.push(Buffer.from(bytes.subarray(0, cut)));
      s.push(Buffer.from(bytes.subarray(cut)));
      s.end();
      expect(got).toEqual([{ line: text }]);
    }
  });
});

// ------------------------------------------------------------------ (b) LogQL parser

function ruleFiles(): string[] {
  const lib = 'rules/library';
  return ['rules/talos-kernel.yaml', ...readdirSync(lib).filter((f) => f.endsWith('.yaml')).map((f) => join(lib, f))];
}

interface RuleDoc {
  groups?: Array<{ rules?: Array<{ expr?: string; labels?: Record<string, string>; annotations?: Record<string, string> }> }>;
}

const RULES = ruleFiles().flatMap((f) => (parseYaml(readFileSync(f, 'utf8')) as RuleDoc).groups?.flatMap((g) => g.rules ?? []) ?? []);
const VALID_EXPRS = [
  ...new Set([
    ...RULES.map((r) => r.expr).filter((e): e is string => typeof e === 'string'),
    'sum by (host) (count_over_time({job="talos-kernel", talos_service=~"kubelet|etcd"} |= "error" != "debug" [5m])) > 10',
    'absent_over_time({job="talos-kernel"}[15m])',
    'sum(rate({job="talos-kernel"} |~ `(?i)oom[- ]kill` [1m])) * 60 >= bool 1',
    'count_over_time({job="talos-kernel"} |= "a" or "b" [5m]) / 2 ^ 3 % 4',
    'max without (level) (bytes_over_time({host!="", job=~".+"} !~ "\\\\d+" [30s]))',
  ]),
];
const TEMPLATES = [...new Set(RULES.flatMap((r) => [...Object.values(r.labels ?? {}), ...Object.values(r.annotations ?? {})]).filter((t) => t.includes('{{')))];

const LOGQL_TOKENS = fc.oneof(
  fc.constantFrom(
    '(', ')', '{', '}', '[', ']', ',', '"', '`', '\\', '\\\\', '|=', '!=', '|~', '!~', '=~', '=', '|', '|>', '!>', ' ', '\n', '#', '-', '+', '*', '/', '%', '^',
    '==', '>', '>=', '<', '<=', 'and', 'or', 'unless', 'bool', 'on', 'ignoring', 'group_left', 'by', 'without', 'offset', 'sum', 'count', 'avg', 'min', 'max',
    'topk', 'stddev', 'count_over_time', 'rate', 'bytes_rate', 'bytes_over_time', 'absent_over_time', 'quantile_over_time', 'sum_over_time', 'vector', 'label_replace',
    'json', 'logfmt', 'regexp', 'pattern', 'line_format', 'label_format', 'unwrap', 'decolorize', 'ip(', '5m', '[5m]', '[0s]', '[1y2w]', '[999999999h]', '1e309',
    '0x1F', '.5', 'NaN', 'Inf', '-Inf', '(?i)', '.*', '.+', '(?s:.)', '\\p{Greek}', '\\x{10FFFF}', '\\Q', '\\z', '[[:alpha:]]', '{1000}', '{1001}', '*?', 'job',
    '"talos-kernel"', 'host', '__error__', '\u0000', '\uD800', '\u00e9',
  ),
  fc.string({ unit: 'binary', maxLength: 6 }),
);

/** Parse under the stall bound; return what it threw (or undefined). */
function parseOutcome(text: string): unknown {
  return bounded(`parseExpr of ${text.length} chars`, () => {
    try {
      parseExpr(text);
      return undefined;
    } catch (e) {
      return e;
    }
  });
}

function expectOnlyLogQLError(text: string): void {
  const err = parseOutcome(text);
  if (err !== undefined && !(err instanceof LogQLError)) {
    throw new Error(`parseExpr(${JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text)}) threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
  }
}

describe('fuzz: LogQL parser', () => {
  it('the rule expressions used as seeds all parse', () => {
    expect(VALID_EXPRS.length).toBeGreaterThan(10);
    for (const e of VALID_EXPRS) expect(parseOutcome(e)).toBeUndefined();
  });

  it('arbitrary strings only ever throw LogQLError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.array(LOGQL_TOKENS, { maxLength: 60 }).map((t) => t.join(''))), expectOnlyLogQLError),
      { numRuns: 1500 },
    );
  });

  it('mutations of valid expressions only ever throw LogQLError', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID_EXPRS), fc.array(editArb(LOGQL_TOKENS), { minLength: 1, maxLength: 6 }), (expr, edits) => expectOnlyLogQLError(applyEdits(expr, edits))),
      { numRuns: 2000 },
    );
  });

  it('nesting as deep as the 5 120-character input limit allows throws LogQLError (or parses), not RangeError', () => {
    // Loki's parser is an LALR automaton with an explicit stack: depth is bounded only by maxInputSize.
    const cases = [
      `${'('.repeat(2500)}1${')'.repeat(2500)}`,
      `${'-'.repeat(2560)}1`,
      `${'sum('.repeat(1000)}count_over_time({job="x"}[5m])${')'.repeat(1000)}`,
      `count_over_time({job=~"${'('.repeat(2000)}a${')'.repeat(2000)}"}[5m])`,
    ];
    for (const c of cases) expectOnlyLogQLError(c.slice(0, 5120));
  });
});

// ------------------------------------------------------------------ (c) templates

const TEMPLATE_TOKENS = fc.oneof(
  fc.constantFrom(
    '{{', '}}', '{{-', '-}}', '{{- ', ' -}}', '{{/*', '*/}}', '(', ')', '|', '$', '$x', '$labels', '$value', '$externalLabels', '$externalURL', '.Labels', '.Value', '.', '.x.y',
    'if', 'else', 'else if', 'end', 'range', 'with', 'break', 'continue', 'define', 'template', 'block', ':=', '=', ',', ' ', '\n', '`', '"', "'a'", "'\\n'",
    'printf', '"%v"', '"%d"', '"%s"', '"%q"', '"%x"', '"%!"', '"%*d"', '"%.*f"', '"%[3]v"', '"%-10.3e"', '"%U"', 'print', 'println', 'html', 'js', 'urlquery',
    'humanize', 'humanize1024', 'humanizeDuration', 'humanizePercentage', 'humanizeTimestamp', 'title', 'toUpper', 'toLower', 'reReplaceAll', 'match', 'label',
    'index', 'len', 'slice', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or', 'not', 'call', 'nil', 'true', 'false', '1e308', '-1', '0x10', '1_000', "'\\u00e9'",
    '3.5i', '\\', 'safeHtml', 'args', 'strvalue', 'query', 'first', 'externalURL', 'pathPrefix', 'tableLink', 'graphLink', 'stripPort', 'stripDomain', 'toTime',
    'parseDuration', 'sortByLabel', '"(a+)+$"', '"[["', '"$1$1$1$1"',
  ),
  fc.string({ unit: 'binary', maxLength: 6 }),
);

const labelValue = fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.constantFrom('', '10.0.0.5:9100', 'a.b.example.com', '-1e308', 'NaN', '1h2m', '2026-01-01T00:00:00Z', '<b>&amp;</b>', '%v%d%s'));
const renderData: fc.Arbitrary<TemplateData> = fc.record({
  labels: fc.dictionary(fc.oneof(fc.constantFrom('alertname', 'job', 'host', 'instance', 'x', '__name__', 'weird-name'), fc.string({ maxLength: 8 })), labelValue, { maxKeys: 8 }),
  value: fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, 1e308, 5e-324, 2 ** 53 + 1, -(2 ** 63), 0.1 + 0.2)),
  externalLabels: fc.dictionary(fc.string({ maxLength: 8 }), labelValue, { maxKeys: 3 }),
  externalURL: fc.oneof(fc.constant(''), fc.constant('https://grafana.example/sub'), fc.string({ maxLength: 40 })),
});

function dataSize(d: TemplateData): number {
  let n = d.externalURL.length;
  for (const m of [d.labels, d.externalLabels]) for (const [k, v] of Object.entries(m)) n += k.length + v.length;
  return n;
}

/** Compile (only TemplateError may escape) and render (nothing may escape), under the stall bound and an output bound. */
function checkTemplate(text: string, data: TemplateData): void {
  const compiled = bounded(`compile of ${text.length} chars`, () => {
    try {
      return compileTemplate(text, { name: '__alert_Fuzz' });
    } catch (e) {
      return e;
    }
  });
  if (!('render' in (compiled as object))) {
    if (!(compiled instanceof TemplateError)) {
      throw new Error(`compileTemplate(${JSON.stringify(text.slice(0, 200))}) threw ${(compiled as Error)?.constructor?.name}: ${(compiled as Error)?.message}`);
    }
    return;
  }
  const t = compiled as ReturnType<typeof compileTemplate>;
  const out = bounded(`render of ${JSON.stringify(text.slice(0, 80))}`, () => t.render(data));
  expect(typeof out).toBe('string');
  // The output limit plus room for one append past it and an error message quoting the inputs.
  expect(out.length).toBeLessThanOrEqual(MAX_OUTPUT + 2 * (text.length + dataSize(data)) + 1024);
}

describe('fuzz: alert templates', () => {
  it('the rule templates used as seeds all compile', () => {
    expect(TEMPLATES.length).toBeGreaterThan(5);
    for (const t of TEMPLATES) expect(() => compileTemplate(t)).not.toThrow();
  });

  it('arbitrary text: compile throws only TemplateError, render never throws, time and output bounded', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.array(TEMPLATE_TOKENS, { maxLength: 40 }).map((t) => t.join(''))), renderData, checkTemplate),
      { numRuns: 1500 },
    );
  });

  it('mutations of the rule templates: compile throws only TemplateError, render never throws, time and output bounded', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TEMPLATES), fc.array(editArb(TEMPLATE_TOKENS), { minLength: 1, maxLength: 6 }), renderData, (t, edits, data) => checkTemplate(applyEdits(t, edits), data)),
      { numRuns: 1500 },
    );
  });

  it('loops over attacker-sized data stay bounded: nested ranges over labels, printf padding', () => {
    const labels = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`l${i}`, 'v'.repeat(500)]));
    const data: TemplateData = { labels, value: 1, externalLabels: {}, externalURL: '' };
    for (const t of [
      '{{ range $labels }}{{ range $labels }}{{ range $labels }}{{ . }}{{ end }}{{ end }}{{ end }}',
      '{{ range $i, $v := $labels }}{{ printf "%999999d" 1 }}{{ end }}',
      '{{ printf "%v%v%v%v" $labels $labels $labels $labels }}',
      '{{ title $labels.l1 | toUpper | printf "%s%s%s%s" }}',
    ]) {
      checkTemplate(t, data);
    }
  });

  it('reReplaceAll over a long label value stays bounded', () => {
    // A label can carry a record field (talos.label_fields): its length is the sender's choice, up to a line.
    const data: TemplateData = { labels: { pod: 'v'.repeat(4000) }, value: 1, externalLabels: {}, externalURL: '' };
    checkTemplate('{{ reReplaceAll "v" "w" $labels.pod }}', data);
  });

  it('nesting 10 000 deep throws TemplateError, not RangeError', () => {
    const data: TemplateData = { labels: {}, value: 1, externalLabels: {}, externalURL: '' };
    for (const t of [`{{${'('.repeat(10_000)}1${')'.repeat(10_000)}}}`, `${'{{if 1}}'.repeat(10_000)}x${'{{end}}'.repeat(10_000)}`]) checkTemplate(t, data);
  });
});
