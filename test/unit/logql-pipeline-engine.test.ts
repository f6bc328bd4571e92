/**
 * LogQL pipelines end to end through the rule engine's range sources:
 * parse → pipeline per line → series per extracted label set → range
 * aggregation over (t−d, t] → vector aggregation. Expected values follow
 * Loki's documented semantics (pkg/logql/range_vector.go aggregators,
 * metrics_extraction.go unwrap, evaluator.go pipeline errors).
 */
import { describe, expect, it } from 'vitest';
import { parseExpr } from '../../src/logql/parse.js';
import { LogQLError } from '../../src/logql/ast.js';
import { extractorGrouping, rangeLeafOf, resultSamples } from '../../src/rules/expr-eval.js';
import { RangeSource } from '../../src/rules/range-source.js';
import { RuleLegs } from '../../src/rules/rule-legs.js';
import { LabelSetCache, type LogEvent } from '../../src/log-event.js';
import { T0, alertSet, oneRule, runTimeline } from '../helpers/timeline.js';
import { Simulation } from '../../src/rules/simulate.js';

const S = 1000;
const M = 60 * S;
const sets = new LabelSetCache();

function ev(atMs: number, line: string, stream: Record<string, string> = { job: 'talos', talos_service: 'etcd' }, metadata?: Record<string, string>): LogEvent {
  return { timeMs: atMs, timeNsRem: 0, receivedMs: atMs, line, stream: sets.intern({ ...stream }), metadata, source: 'service' };
}

/** The expression's result at instant `atMs` over `events`, as sorted "labels value" strings. */
function evalAt(query: string, events: LogEvent[], atMs: number): string[] {
  const expr = parseExpr(query);
  const legs = new RuleLegs(expr);
  for (const e of events) legs.sources.forEach((_, i) => legs.add(i, e, -Infinity));
  const T = legs.gridAtOrAfter(atMs);
  return resultSamples(legs.evaluate(T))
    .map((s) => `${Object.keys(s.labels).sort().map((k) => `${k}=${s.labels[k]}`).join(',')} ${s.value}`)
    .sort();
}

const etcd = (took: string, level = 'warn', extra = '') =>
  `{"level":"${level}","ts":"2026-02-27T03:00:00Z","caller":"etcdserver/util.go:170","msg":"apply request took too long","took":"${took}","expected-duration":"100ms"${extra}}`;

describe('json + label filters', () => {
  const lines = [ev(T0 + 1 * S, etcd('150ms')), ev(T0 + 2 * S, etcd('50ms', 'info')), ev(T0 + 3 * S, etcd('1.2s')), ev(T0 + 4 * S, 'not json at all')];

  it('count per extracted label set; unparsable lines carry __error__ and fail the query (evaluator.go)', () => {
    expect(() => evalAt('count_over_time({talos_service="etcd"} | json [5m])', lines, T0 + 10 * S)).toThrow(/pipeline error: 'JSONParserErr'/);
  });

  it('__error__="" drops them; grouping by an extracted label', () => {
    expect(evalAt('sum by (level) (count_over_time({talos_service="etcd"} | json | __error__="" [5m]))', lines, T0 + 10 * S)).toEqual(['level=info 1', 'level=warn 2']);
  });

  it('duration filter on an extracted field', () => {
    expect(evalAt('sum(count_over_time({talos_service="etcd"} | json | took > 100ms [5m]))', lines, T0 + 10 * S)).toEqual([' 2']);
    expect(evalAt('sum(count_over_time({talos_service="etcd"} | json | took > 100ms and level="info" [5m]))', lines, T0 + 10 * S)).toEqual([]);
  });

  it('series are the stream labels plus every extracted label (minus dropped)', () => {
    const out = evalAt('count_over_time({talos_service="etcd"} | json | __error__="" | drop ts, caller, msg, expected_duration [5m])', lines, T0 + 10 * S);
    expect(out).toEqual([
      'job=talos,level=info,talos_service=etcd,took=50ms 1',
      'job=talos,level=warn,talos_service=etcd,took=1.2s 1',
      'job=talos,level=warn,talos_service=etcd,took=150ms 1',
    ]);
  });

  it('a conversion error in a numeric filter keeps the line with LabelFilterErr', () => {
    const l = [ev(T0 + S, '{"status":"abc"}'), ev(T0 + S, '{"status":"503"}'), ev(T0 + S, '{"status":"200"}')];
    expect(() => evalAt('count_over_time({job="talos"} | json | status >= 500 [1m])', l, T0 + 2 * S)).toThrow(/LabelFilterErr/);
    expect(evalAt('sum(count_over_time({job="talos"} | json | status >= 500 | __error__="" [1m]))', l, T0 + 2 * S)).toEqual([' 1']);
  });

  it('__error__="" without a parser is accepted and a no-op', () => {
    expect(evalAt('count_over_time({talos_service="etcd"} | __error__="" [5m])', lines, T0 + 10 * S)).toEqual(['job=talos,talos_service=etcd 4']);
  });
});

describe('logfmt', () => {
  const cri = { job: 'talos', talos_service: 'cri' };
  const lines = [
    ev(T0 + 1 * S, 'time="2026-02-27T03:00:01Z" level=error msg="failed to pull image" image=nginx:1', cri),
    ev(T0 + 2 * S, 'time="2026-02-27T03:00:02Z" level=info msg="pulled" image=nginx:1', cri),
    ev(T0 + 3 * S, 'time="2026-02-27T03:00:03Z" level=error msg="failed to pull image" image=redis:7', cri),
    ev(T0 + 4 * S, 'level=error msg="unterminated', cri),
  ];
  it('rate by an extracted label', () => {
    // The unterminated line still yields level=error (non-strict logfmt keeps the pairs before the error) and no image.
    expect(evalAt('sum by (image) (rate({talos_service="cri"} | logfmt | level="error" [1m]))', lines, T0 + 5 * S)).toEqual([' 0.016666666666666666', 'image=nginx:1 0.016666666666666666', 'image=redis:7 0.016666666666666666']);
  });
  it('--strict flags the malformed line', () => {
    expect(() => evalAt('count_over_time({talos_service="cri"} | logfmt --strict [1m])', lines, T0 + 5 * S)).toThrow(/LogfmtParserErr/);
    // `sum` pushes `by ()` into the extractor and the filter names __error__: the error is preserved as data.
    expect(evalAt('sum(count_over_time({talos_service="cri"} | logfmt --strict | __error__!="" [1m]))', lines, T0 + 5 * S)).toEqual([' 1']);
    expect(evalAt('sum by (__error__) (count_over_time({talos_service="cri"} | logfmt --strict [1m]))', lines, T0 + 5 * S)).toEqual([' 3', '__error__=LogfmtParserErr 1']);
  });
});

describe('unwrap', () => {
  const lines = [
    ev(T0 + 1 * S, '{"lat":"0.1","dur":"150ms","size":"1KiB","path":"/a"}'),
    ev(T0 + 2 * S, '{"lat":"0.3","dur":"1.5s","size":"2KiB","path":"/a"}'),
    ev(T0 + 3 * S, '{"lat":"0.2","dur":"10ms","size":"512B","path":"/b"}'),
    ev(T0 + 4 * S, '{"lat":"x","dur":"y","size":"z","path":"/b"}'),
    ev(T0 + 5 * S, '{"path":"/c"}'),
  ];
  const at = T0 + 10 * S;
  const q = (fn: string, unwrap = 'lat', extra = '') => `${fn}({job="talos"} | json | unwrap ${unwrap} | __error__="" [1m])${extra}`;

  it('sum/avg/min/max/first/last with the unwrapped label removed (without (lat))', () => {
    const series = 'dur=150ms,job=talos,path=/a,size=1KiB,talos_service=etcd';
    expect(evalAt(q('sum_over_time'), lines.slice(0, 1), at)).toEqual([`${series} 0.1`]);
    expect(evalAt(`sum by (path) (${q('sum_over_time')})`, lines, at)).toEqual(['path=/a 0.4', 'path=/b 0.2']);
  });

  it('range aggregations by (path) over one series per path', () => {
    const by = (fn: string, u = 'lat') => evalAt(`${fn}({job="talos"} | json | drop dur, size | unwrap ${u} | __error__="" [1m]) by (path)`, lines, at);
    expect(by('avg_over_time')).toEqual(['path=/a 0.2', 'path=/b 0.2']);
    expect(by('max_over_time')).toEqual(['path=/a 0.3', 'path=/b 0.2']);
    expect(by('min_over_time')).toEqual(['path=/a 0.1', 'path=/b 0.2']);
    expect(by('first_over_time')).toEqual(['path=/a 0.1', 'path=/b 0.2']);
    expect(by('last_over_time')).toEqual(['path=/a 0.3', 'path=/b 0.2']);
    // Population variance of {0.1, 0.3} is 0.01 (Welford's algorithm in time order, as range_vector.go).
    const [sdA, sdB] = by('stddev_over_time').map((x) => Number(x.split(' ')[1]));
    expect(sdA).toBeCloseTo(0.1, 15);
    expect(sdB).toBe(0);
    const [varA] = by('stdvar_over_time').map((x) => Number(x.split(' ')[1]));
    expect(varA).toBeCloseTo(0.01, 15);
    expect(evalAt(`quantile_over_time(0.5, {job="talos"} | json | unwrap lat | __error__="" [1m]) by (job)`, lines, at)).toEqual(['job=talos 0.2']);
    expect(evalAt(`quantile_over_time(0.99, {job="talos"} | json | unwrap lat | __error__="" [1m]) by (job)`, lines, at)).toEqual(['job=talos 0.298']);
  });

  it('duration(), duration_seconds(), bytes() conversions; rate = sum / range', () => {
    expect(evalAt(`sum(sum_over_time({job="talos"} | json | unwrap duration(dur) | __error__="" [1m]))`, lines, at)).toEqual([' 1.66']);
    expect(evalAt(`sum(sum_over_time({job="talos"} | json | unwrap duration_seconds(dur) | __error__="" [1m]))`, lines, at)).toEqual([' 1.66']);
    expect(evalAt(`sum(sum_over_time({job="talos"} | json | unwrap bytes(size) | __error__="" [1m]))`, lines, at)).toEqual([' 3584']);
    expect(evalAt(`sum(rate({job="talos"} | json | unwrap bytes(size) | __error__="" [1m]))`, lines, at)).toEqual([` ${3584 / 60}`]);
  });

  it('a conversion error is SampleExtractionErr and fails the query unless filtered', () => {
    expect(() => evalAt(`sum(sum_over_time({job="talos"} | json | unwrap lat [1m]))`, lines, at)).toThrow(/pipeline error: 'SampleExtractionErr'/);
  });

  it('lines without the label give no sample', () => {
    expect(evalAt(`sum(count_over_time({job="talos"} | json [1m]))`, lines, at)).toEqual([' 5']);
    expect(evalAt(`max_over_time({job="talos"} | json | unwrap lat | __error__="" [1m]) by ()`, lines, at)).toEqual([' 0.3']);
  });

  it('rate_counter extrapolates like Prometheus rate', () => {
    const c = [ev(T0 + 10 * S, '{"c":"10"}'), ev(T0 + 20 * S, '{"c":"20"}'), ev(T0 + 30 * S, '{"c":"5"}'), ev(T0 + 40 * S, '{"c":"15"}')];
    // increase = (15-10) + 20 (reset) = 25 over 30s of samples, extrapolated: start gap 10s ≤ 1.1·10s avg → kept… (see range_vector.go)
    const v = evalAt(`sum(rate_counter({job="talos"} | json | unwrap c [1m]))`, c, T0 + 45 * S);
    expect(v).toEqual([` ${(25 * ((30 + 5 + 5) / 30)) / 60}`]);
  });

  it('the window is (t−d, t]: a sample exactly d old is out', () => {
    const l = [ev(T0, '{"v":"1"}'), ev(T0 + 30 * S, '{"v":"2"}')];
    expect(evalAt(`sum(sum_over_time({job="talos"} | json | unwrap v [1m]))`, l, T0 + 59 * S)).toEqual([' 3']);
    expect(evalAt(`sum(sum_over_time({job="talos"} | json | unwrap v [1m]))`, l, T0 + 60 * S)).toEqual([' 2']);
  });
});

describe('structured metadata', () => {
  it('is usable in label filters and by(), and a stream-label collision gets _extracted', () => {
    const k = { job: 'talos', talos_service: 'kernel' };
    const l = [
      ev(T0 + S, 'usb 1-1: new device', k, { facility: 'kern', priority: 'info' }),
      ev(T0 + S, 'oom-killer invoked', k, { facility: 'kern', priority: 'err' }),
      ev(T0 + S, 'sshd: accepted', k, { facility: 'auth', priority: 'err', job: 'other' }),
    ];
    expect(evalAt('sum by (facility) (count_over_time({job="talos"} | priority="err" [1m]))', l, T0 + 2 * S)).toEqual(['facility=auth 1', 'facility=kern 1']);
    expect(evalAt('sum by (job_extracted) (count_over_time({job="talos"} | facility="auth" [1m]))', l, T0 + 2 * S)).toEqual(['job_extracted=other 1']);
  });
});

describe('pattern and regexp', () => {
  it('pattern extracts fields used for grouping', () => {
    const l = [ev(T0 + S, '10.0.0.1 GET /api 200'), ev(T0 + S, '10.0.0.2 GET /api 503'), ev(T0 + S, '10.0.0.1 POST /x 503')];
    expect(evalAt('sum by (status) (count_over_time({job="talos"} | pattern "<_> <method> <path> <status>" [1m]))', l, T0 + 2 * S)).toEqual(['status=200 1', 'status=503 2']);
    expect(evalAt('sum by (ip) (count_over_time({job="talos"} | regexp "^(?P<ip>\\\\S+) (?P<method>\\\\S+)" | method="GET" [1m]))', l, T0 + 2 * S)).toEqual(['ip=10.0.0.1 1', 'ip=10.0.0.2 1']);
    expect(evalAt('sum(count_over_time({job="talos"} |= ip("10.0.0.0/31") [1m]))', l, T0 + 2 * S)).toEqual([' 2']);
    expect(evalAt('sum(count_over_time({job="talos"} != ip("10.0.0.1") [1m]))', l, T0 + 2 * S)).toEqual([' 1']);
  });
});

describe('in the rule engine', () => {
  it('an alert per extracted label set fires and resolves on the grid', () => {
    const rules = oneRule('sum by (level) (count_over_time({talos_service="etcd"} | json | __error__="" | took > 100ms [1m])) > 0');
    const lines = [ev(T0 + 10 * S, etcd('150ms')), ev(T0 + 20 * S, etcd('5ms'))];
    const sets = runTimeline(rules, lines, [T0 + 10 * S, T0 + 69 * S, T0 + 70 * S]);
    expect(sets.get(T0 + 10 * S)).toEqual(['A{level=warn}=firing']);
    expect(sets.get(T0 + 69 * S)).toEqual(['A{level=warn}=firing']);
    expect(sets.get(T0 + 70 * S)).toEqual([]);
  });

  it('refuses Loki-invalid combinations at load', () => {
    const bad = (q: string, msg: RegExp) => {
      let err: unknown;
      try {
        parseExpr(q);
      } catch (e) {
        err = e;
      }
      expect(err, q).toBeInstanceOf(LogQLError);
      expect((err as LogQLError).message).toMatch(msg);
    };
    bad('sum_over_time({a="b"} [1m])', /invalid aggregation sum_over_time without unwrap/);
    bad('count_over_time({a="b"} | unwrap x [1m])', /invalid aggregation count_over_time with unwrap/);
    bad('count_over_time({a="b"} [1m]) by (x)', /grouping not allowed for count_over_time/);
    bad('count_over_time({a="b"} | regexp "(a)" [1m])', /at least one named capture/);
    bad('count_over_time({a="b"} | pattern "<a><b>" [1m])', /consecutive capture/);
    bad('count_over_time({a="b"} | addr = ip("300.1.1.1") [1m])', /ip: invalid pattern/);
  });
});

describe('formatting changes what later stages see', () => {
  const l = [ev(T0 + S, '{"msg":"disk full","level":"error","n":"3"}'), ev(T0 + S, '{"msg":"ok","level":"info","n":"4"}')];
  it('line filters after line_format test the new line; bytes_* count it', () => {
    expect(evalAt('sum(count_over_time({job="talos"} | json | line_format "{{.level}}: {{.msg}}" |= "error: disk" [1m]))', l, T0 + 2 * S)).toEqual([' 1']);
    expect(evalAt('sum(bytes_over_time({job="talos"} | json | line_format "{{.msg}}" [1m]))', l, T0 + 2 * S)).toEqual([' 11']);
    // A line filter before line_format still sees the original line (and goes to the shared prefilter).
    expect(parseExpr('count_over_time({job="talos"} |= "disk" | json | line_format "{{.msg}}" |= "full" [1m])')).toMatchObject({
      selector: { filters: [{ op: '|=', values: ['disk'] }], stages: [{ k: 'json' }, { k: 'line_format' }, { k: 'line_filter' }] },
    });
  });
  it('label_format renames and computes labels used for grouping and unwrap', () => {
    expect(evalAt('sum by (severity) (count_over_time({job="talos"} | json | label_format severity=level [1m]))', l, T0 + 2 * S)).toEqual(['severity=error 1', 'severity=info 1']);
    expect(evalAt('sum(sum_over_time({job="talos"} | json | label_format m="{{ mul .n 10 }}" | unwrap m [1m]))', l, T0 + 2 * S)).toEqual([' 70']);
  });
  it('decolorize, keep', () => {
    const c = [ev(T0 + S, '\u001b[31mERROR\u001b[0m x')];
    expect(evalAt('sum(count_over_time({job="talos"} | decolorize |= "ERROR x" [1m]))', c, T0 + 2 * S)).toEqual([' 1']);
    expect(evalAt('count_over_time({job="talos"} | json | keep level [1m])', l, T0 + 2 * S)).toEqual(['level=error 1', 'level=info 1']);
  });
});

describe('pipeline errors in the rule engine', () => {
  it('a rule whose samples keep __error__ fails evaluation (health err, Loki\'s message) and changes no alert', () => {
    const rules = oneRule('count_over_time({talos_service="etcd"} | json [1m]) > 0');
    const sim = new Simulation(rules, T0, { tickMs: 1000 });
    sim.ingest(ev(T0 + S, etcd('150ms')));
    sim.advanceTo(T0 + 2 * S);
    expect(alertSet(sim)).toEqual(['A{caller=etcdserver/util.go:170,expected_duration=100ms,job=talos,level=warn,msg=apply request took too long,talos_service=etcd,took=150ms,ts=2026-02-27T03:00:00Z}=firing']);
    sim.ingest(ev(T0 + 3 * S, 'plain text'));
    sim.advanceTo(T0 + 4 * S);
    const rule = sim.engine.loadedRules()[0]!;
    expect(rule.health).toBe('err');
    expect(rule.lastError).toMatch(/^pipeline error: 'JSONParserErr' for series: '\{__error__="JSONParserErr"/);
    // Prometheus semantics: a failed evaluation leaves the alerts as they were.
    expect(alertSet(sim)).toHaveLength(1);
  });
});

describe('pattern line filters', () => {
  it('|> keeps lines matching any pattern, !> those matching none', () => {
    const l = [ev(T0 + S, 'GET /a 200'), ev(T0 + S, 'GET /b 503'), ev(T0 + S, 'POST /c 503 extra')];
    expect(evalAt('sum(count_over_time({job="talos"} |> "<_> <_> 503" [1m]))', l, T0 + 2 * S)).toEqual([' 1']);
    expect(evalAt('sum(count_over_time({job="talos"} |> "GET <_>" or "<_> 503 <_>" [1m]))', l, T0 + 2 * S)).toEqual([' 3']);
    expect(evalAt('sum(count_over_time({job="talos"} !> "GET <_>" [1m]))', l, T0 + 2 * S)).toEqual([' 1']);
  });
});

describe("Loki's parser hints (parser_hints.go) decide what is parsed and which errors arise", () => {
  const lines = [ev(T0 + S, 'not json'), ev(T0 + S, '{"level":"warn", "x": broken'), ev(T0 + S, '{"x": broken, "level":"warn"}')];
  it('sum(...) over | json needs no labels: nothing is parsed, no error, every line counts', () => {
    expect(evalAt('sum(count_over_time({job="talos"} | json [1m]))', lines, T0 + 2 * S)).toEqual([' 3']);
  });
  it('parsing stops once the grouping labels are extracted: a later syntax error is no error', () => {
    const ok = [ev(T0 + S, '{"level":"warn", "x": broken')];
    expect(evalAt('sum by (level) (count_over_time({job="talos"} | json [1m]))', ok, T0 + 2 * S)).toEqual(['level=warn 1']);
    // The same line without grouping extracts everything and hits the error.
    expect(() => evalAt('count_over_time({job="talos"} | json [1m])', ok, T0 + 2 * S)).toThrow(/JSONParserErr/);
  });
  it('an error before the needed labels still fails the query unless __error__ is asked for', () => {
    const bad = [ev(T0 + S, '{"x": broken, "level":"warn"}')];
    expect(() => evalAt('sum by (level) (count_over_time({job="talos"} | json [1m]))', bad, T0 + 2 * S)).toThrow(/JSONParserErr/);
    expect(evalAt('sum by (level, __error__) (count_over_time({job="talos"} | json [1m]))', bad, T0 + 2 * S)).toEqual(['__error__=JSONParserErr 1']);
  });
  it('only the needed labels are extracted (series stay few); a label filter counts as needed', () => {
    const l = [ev(T0 + S, '{"level":"warn","status":"500","id":"a1"}'), ev(T0 + S, '{"level":"warn","status":"200","id":"b2"}')];
    expect(evalAt('sum by (level) (count_over_time({job="talos"} | json | status >= 500 [1m]))', l, T0 + 2 * S)).toEqual(['level=warn 1']);
    expect(evalAt('sum by (level) (count_over_time({job="talos"} | logfmt | status >= 500 [1m]))', [ev(T0 + S, 'level=warn status=500 id=x broken="'), ev(T0 + S, 'level=info status=200')], T0 + 2 * S)).toEqual(['level=warn 1']);
  });
});

describe('limits and refusals', () => {
  it('samples beyond the per-series cap are dropped, counted and reported once', () => {
    const expr = parseExpr('quantile_over_time(0.5, {job="talos"} | json | unwrap v [10m]) by (job)');
    const src = new RangeSource(rangeLeafOf(expr), extractorGrouping(expr));
    const reported: Array<Readonly<Record<string, string>>> = [];
    src.onSampleCap = (l) => reported.push(l);
    for (let i = 0; i < 20_005; i++) src.add(ev(T0 + Math.floor(i / 100), `{"v":"${i}"}`), -Infinity);
    expect(src.samplesDropped).toBe(5);
    expect(reported).toEqual([{ job: 'talos' }]);
    // The kept samples are the first 20 000: median of 0…19 999.
    expect(src.evaluate(src.gridAtOrAfter(T0 + 1000))).toEqual([{ labels: { job: 'talos' }, value: 9999.5 }]);
  });
  it('a template parsing dates from text is refused as unsupported, naming the function', () => {
    let err: unknown;
    try {
      parseExpr('count_over_time({job="talos"} | line_format "{{ toDate \\"2006\\" .d }}" [1m])');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LogQLError);
    expect((err as LogQLError).unsupported).toBe(true);
    expect((err as LogQLError).message).toMatch(/toDate.*not supported/);
  });
});

describe('series limit', () => {
  it('a pipeline rule past its series limit refuses new series and fails until its range no longer holds them', () => {
    const expr = parseExpr('count_over_time({job="talos"} | json [1m])');
    const src = new RangeSource(rangeLeafOf(expr), extractorGrouping(expr));
    src.maxSeries = 3;
    let reported = 0;
    src.onSeriesLimit = () => reported++;
    for (let i = 0; i < 5; i++) src.add(ev(T0 + S, `{"id":"${i}"}`), -Infinity);
    expect(src.seriesRefused).toBe(2);
    expect(reported).toBe(1);
    expect(() => src.evaluate(src.gridAtOrAfter(T0 + 2 * S))).toThrow(/maximum of series \(3\) reached/);
    // The refused lines left the range at T0 + 1s + 1m: the rule works again (and its old series are gone).
    expect(src.evaluate(src.gridAtOrAfter(T0 + S + M))).toEqual([]);
    expect(src.seriesCount).toBe(0);
  });
});
