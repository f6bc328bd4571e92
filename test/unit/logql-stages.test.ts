/**
 * LogQL pipeline stages, one by one, with expected values from Loki's own
 * tests (pkg/logql/log/parser_test.go, label_filter_test.go, ip_test.go,
 * pattern/pattern_test.go) and documented behaviour.
 */
import { describe, expect, it } from 'vitest';
import { LabelsBuilder } from '../../src/logql/stages/labels-builder.js';
import { JsonExpressionParser, JsonParser, UnpackParser, parseJsonPath } from '../../src/logql/stages/json.js';
import { LogfmtExpressionParser, LogfmtParser } from '../../src/logql/stages/logfmt.js';
import { LinePattern, PatternParser, compilePattern, matchPattern, testPattern } from '../../src/logql/stages/pattern.js';
import { readFileSync } from 'node:fs';
import { RegexpParser } from '../../src/logql/stages/regexp.js';
import { DecolorizeStage, DropStage, KeepStage } from '../../src/logql/stages/label-stages.js';
import { IpFilter } from '../../src/logql/stages/ip.js';
import { compileLabelFilter } from '../../src/logql/stages/label-filter.js';
import { parseGoDurationNs, parseGoFloat, parseHumanBytes } from '../../src/logql/stages/units.js';
import type { Stage } from '../../src/logql/stages/stage.js';
import type { LabelFilterExpr } from '../../src/logql/ast.js';
import { compileLabelRegex } from '../../src/re2/re2.js';

const CTX = { timeMs: 0, timeNsRem: 0 };

function run(stage: Stage, line: string, base: Record<string, string> = {}, metadata?: Record<string, string>): { line: string | undefined; labels: Record<string, string> } {
  const lb = new LabelsBuilder();
  lb.reset(base, metadata);
  const out = stage.process(line, lb, CTX);
  return { line: out, labels: lb.labels() };
}

describe('json (parser_test.go Test_jsonParser_Parse)', () => {
  const j = new JsonParser();
  it.each([
    ['multi depth', '{"app":"foo","namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar"}}}', {}, { app: 'foo', namespace: 'prod', pod_uuid: 'foo', pod_deployment_ref: 'foobar' }],
    [
      'multi depth with duplicates',
      '{"app":"bar","namespace":"prod","pod":{"uuid":"bar","deployment":{"ref":"foobar"}}}',
      { app: 'foo', pod_uuid: 'foo' },
      { app: 'foo', app_extracted: 'bar', namespace: 'prod', pod_uuid: 'foo', pod_uuid_extracted: 'bar', pod_deployment_ref: 'foobar' },
    ],
    ['numeric', '{"counter":1, "price": {"_net_":5.56909}}', {}, { counter: '1', price__net_: '5.56909' }],
    ['whitespace key value', '{" ": {"foo":"bar"}}', {}, { foo: 'bar' }],
    ['escaped', '{"counter":1,"foo":"foo\\\\\\"bar", "price": {"_net_":5.56909}}', {}, { counter: '1', price__net_: '5.56909', foo: 'foo\\"bar' }],
    ['utf8 error rune', '{"counter":1,"foo":"�", "price": {"_net_":5.56909}}', {}, { counter: '1', price__net_: '5.56909', foo: ' ' }],
    ['skip arrays', '{"counter":1, "price": {"net_":["10","20"]}}', {}, { counter: '1' }],
    ['bad key replaced', '{"cou-nter":1}', {}, { cou_nter: '1' }],
    ['nested bad key replaced (trailing text ignored)', '{"foo":{"cou-nter":1}}"', {}, { foo_cou_nter: '1' }],
    ['errors', '{n}', {}, { __error__: 'JSONParserErr', __error_details__: "Value looks like object, but can't find closing '}' symbol" }],
    [
      'duplicate extraction',
      '{"app":"foo","namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar"}},"next":{"err":false}}',
      { app: 'bar' },
      { app: 'bar', app_extracted: 'foo', namespace: 'prod', pod_uuid: 'foo', next_err: 'false', pod_deployment_ref: 'foobar' },
    ],
  ])('%s', (_n, line, base, want) => {
    expect(run(j, line, base).labels).toEqual(want);
  });

  it('suffixes a name that collides with structured metadata', () => {
    expect(run(j, '{"app":"foo","namespace":"prod","pod":"pod_parsed"}', {}, { pod: 'pod_sm' }).labels).toEqual({
      app: 'foo', namespace: 'prod', pod: 'pod_sm', pod_extracted: 'pod_parsed',
    });
  });

  it('keeps members before a syntax error, flags the error, keeps the line', () => {
    const r = run(j, '{"level":"warn","ts":1.5,"msg":"x" "broken"}');
    expect(r.line).toBe('{"level":"warn","ts":1.5,"msg":"x" "broken"}');
    expect(r.labels).toEqual({ level: 'warn', ts: '1.5', msg: 'x', __error__: 'JSONParserErr', __error_details__: "Value looks like object, but can't find closing '}' symbol" });
  });

  it('not an object, empty line, nulls, booleans, unicode escapes, duplicate keys (first wins)', () => {
    expect(run(j, '[1,2]').labels.__error__).toBe('JSONParserErr');
    expect(run(j, '').labels.__error_details__).toBe("Value looks like object, but can't find closing '}' symbol");
    expect(run(j, '{"a":null,"b":true,"c":"\\u00e9\\ud83d\\ude00","d":-1e3}').labels).toEqual({ b: 'true', c: 'é😀', d: '-1e3' });
    expect(run(j, '{"a":"1","a":"2"}').labels).toEqual({ a: '1' });
    expect(run(j, '{"a":"\\q"}').labels).toEqual({ a: '' });
    expect(run(j, '{"1st":"x","é":"y"}').labels).toEqual({ _1st: 'x', _: 'y' });
  });

  it('etcd-style record', () => {
    const line = '{"level":"warn","ts":"2024-01-01T00:00:00.000Z","caller":"etcdserver/util.go:170","msg":"apply request took too long","took":"123.4ms","expected-duration":"100ms"}';
    expect(run(j, line, { talos_service: 'etcd' }).labels).toMatchObject({ level: 'warn', took: '123.4ms', expected_duration: '100ms', caller: 'etcdserver/util.go:170' });
  });
});

describe('json with expressions (TestJSONExpressionParser)', () => {
  it('extracts paths, arrays, objects; "" for missing', () => {
    const p = new JsonExpressionParser([
      { identifier: 'app', expression: 'app' },
      { identifier: 'uuid', expression: 'pod.uuid' },
      { identifier: 'first', expression: 'arr[0]' },
      { identifier: 'obj', expression: 'pod' },
      { identifier: 'spaced', expression: '["a b"]' },
      { identifier: 'missing', expression: 'nope.x' },
    ]);
    const r = run(p, '{"app":"foo","pod":{"uuid":"u1"},"arr":["x","y"],"a b":"z"}');
    expect(r.labels).toEqual({ app: 'foo', uuid: 'u1', first: 'x', obj: '{"uuid":"u1"}', spaced: 'z', missing: '' });
  });
  it('parses jsonexpr paths', () => {
    expect(parseJsonPath('a.b[1]["c d"]')).toEqual(['a', 'b', 1, 'c d']);
    expect(() => parseJsonPath('a[1.5]')).toThrow(/float/);
  });
  it('flags a line that does not start like JSON', () => {
    expect(run(new JsonExpressionParser([{ identifier: 'a', expression: 'a' }]), 'plain').labels).toEqual({ __error__: 'JSONParserErr' });
  });
});

describe('json expressions (parser_test.go TestJSONExpressionParser)', () => {
  const line = '{"app":"foo","field with space":"value","field with ÜFT8👌":"value","null_field":null,"bool_field":false,"namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar", "params": [1,2,3,"string_value"]}}}';
  const one = (id: string, expr: string, l = line, base: Record<string, string> = {}, md?: Record<string, string>) =>
    run(new JsonExpressionParser([{ identifier: id, expression: expr }]), l, base, md).labels;
  it.each([
    ['single field', 'app', 'app', { app: 'foo' }],
    ['alternate syntax', 'test', '["field with space"]', { test: 'value' }],
    ['utf8', 'utf8', '["field with ÜFT8👌"]', { utf8: 'value' }],
    ['nested field', 'uuid', 'pod.uuid', { uuid: 'foo' }],
    ['nested field alternate syntax', 'uuid', 'pod["uuid"]', { uuid: 'foo' }],
    ['nested field alternate syntax 2', 'uuid', '["pod"]["uuid"]', { uuid: 'foo' }],
    ['nested field alternate syntax 3', 'uuid', '["pod"].uuid', { uuid: 'foo' }],
    ['array element', 'param', 'pod.deployment.params[0]', { param: '1' }],
    ['object element not present', 'undefined', 'pod[""]', { undefined: '' }],
    ['accessing invalid array index', 'param', 'pod.deployment.params[""]', { param: '' }],
    ['array string element', 'param', 'pod.deployment.params[3]', { param: 'string_value' }],
    ['full array', 'params', 'pod.deployment.params', { params: '[1,2,3,"string_value"]' }],
    ['full object', 'deployment', 'pod.deployment', { deployment: '{"ref":"foobar", "params": [1,2,3,"string_value"]}' }],
    ['expression matching nothing', 'nope', 'pod.nope', { nope: '' }],
    ['null field', 'nf', 'null_field', { nf: '' }],
    ['boolean field', 'bool', 'bool_field', { bool: 'false' }],
  ])('%s', (_n, id, expr, want) => {
    expect(one(id, expr)).toEqual(want);
  });
  it('label override, empty object, invalid line, empty line, escapes, duplicates, metadata', () => {
    expect(one('uuid', 'pod.uuid', line, { uuid: 'bar' })).toEqual({ uuid: 'bar', uuid_extracted: 'foo' });
    expect(one('uuid', 'pod.uuid', '{}')).toEqual({ uuid: '' });
    expect(one('uuid', 'will.not.work', 'invalid json', { foo: 'bar' })).toEqual({ foo: 'bar', __error__: 'JSONParserErr' });
    expect(one('uuid', 'will.not.work', '', { foo: 'bar' })).toEqual({ foo: 'bar' });
    expect(one('app', 'app', '{"app":"{ \\"key\\": \\"value\\", \\"key2\\":\\"value2\\"}"}')).toEqual({ app: '{ "key": "value", "key2":"value2"}' });
    expect(one('app', 'app', '{"app":{"name":"great \\"loki\\""}')).toEqual({ app: '{"name":"great \\"loki\\""}' });
    expect(one('app', 'app', '{"app":"foo","app":"duplicate"}')).toEqual({ app: 'foo' });
    expect(one('app', 'app', line, {}, { app: 'app_sm' })).toEqual({ app: 'app_sm', app_extracted: 'foo' });
  });
});

describe('logfmt (TestLogfmtParser_parse)', () => {
  const lax = new LogfmtParser(false, false);
  const strict = new LogfmtParser(true, false);
  it.each([
    ['not logfmt', 'foobar====wqe=sdad1r', { foo: 'bar' }, { foo: 'bar' }, { foo: 'bar', __error__: 'LogfmtParserErr', __error_details__: "logfmt syntax error at pos 8 : unexpected '='" }],
    ['utf8 error rune', 'buzz=foo bar=�f', {}, { bar: ' f', buzz: 'foo' }, undefined],
    ['key alone', 'buzz bar=foo', { foo: 'bar' }, { foo: 'bar', bar: 'foo' }, undefined],
    ['quoted', 'foobar="foo bar"', { foo: 'bar' }, { foo: 'bar', foobar: 'foo bar' }, undefined],
    ['escaped control chars', 'foobar="foo\\nbar\\tbaz"', {}, { foobar: 'foo\nbar\tbaz' }, undefined],
    ['escaped slash', 'foobar="foo ba\\\\r baz"', {}, { foobar: 'foo ba\\r baz' }, undefined],
    ['double property', 'foobar="foo bar" latency=10ms', {}, { foobar: 'foo bar', latency: '10ms' }, undefined],
    ['duplicate from line property (first wins)', 'foobar="foo bar" foobar=10ms', {}, { foobar: 'foo bar' }, undefined],
    ['duplicate property', 'foo="foo bar" foobar=10ms', { foo: 'bar' }, { foo: 'bar', foo_extracted: 'foo bar', foobar: '10ms' }, undefined],
    ['invalid key names', 'foo="foo bar" foo.bar=10ms test-dash=foo', { foo: 'bar' }, { foo: 'bar', foo_extracted: 'foo bar', foo_bar: '10ms', test_dash: 'foo' }, undefined],
    [
      'empty key',
      'foo="foo bar" =notkey bar=10ms',
      { foo: 'bar' },
      { foo: 'bar', foo_extracted: 'foo bar', bar: '10ms' },
      { foo: 'bar', foo_extracted: 'foo bar', __error__: 'LogfmtParserErr', __error_details__: "logfmt syntax error at pos 15 : unexpected '='" },
    ],
    [
      'error rune in key',
      'foo="foo bar" b�r=10ms',
      { foo: 'bar' },
      { foo: 'bar', foo_extracted: 'foo bar' },
      { foo: 'bar', foo_extracted: 'foo bar', __error__: 'LogfmtParserErr', __error_details__: 'logfmt syntax error at pos 20 : invalid key' },
    ],
    [
      'double quote in key',
      'foo="foo bar" bu"zz=10ms',
      { foo: 'bar' },
      { foo: 'bar', foo_extracted: 'foo bar' },
      { foo: 'bar', foo_extracted: 'foo bar', __error__: 'LogfmtParserErr', __error_details__: 'logfmt syntax error at pos 17 : unexpected \'"\'' },
    ],
  ])('%s', (_n, line, base, want, wantStrict) => {
    expect(run(lax, line, base).labels).toEqual(want);
    if (wantStrict !== undefined) expect(run(strict, line, base).labels).toEqual(wantStrict);
  });

  it('unterminated quote (strict), --keep-empty, containerd record', () => {
    expect(run(strict, 'a=1 b="open').labels).toEqual({ a: '1', __error__: 'LogfmtParserErr', __error_details__: 'logfmt syntax error at pos 12 : unterminated quoted value' });
    expect(run(new LogfmtParser(false, true), 'a= b c=1').labels).toEqual({ a: '', b: '', c: '1' });
    expect(run(lax, 'a= b c=1').labels).toEqual({ c: '1' });
    const containerd = 'time="2024-05-01T10:00:00.123456789Z" level=error msg="failed to pull image \\"x:1\\"" error="rpc error: code = NotFound"';
    expect(run(lax, containerd, { talos_service: 'cri' }).labels).toEqual({
      talos_service: 'cri', time: '2024-05-01T10:00:00.123456789Z', level: 'error', msg: 'failed to pull image "x:1"', error: 'rpc error: code = NotFound',
    });
  });

  it('expressions: renamed keys, "" when missing', () => {
    const p = new LogfmtExpressionParser([{ identifier: 'lvl', expression: 'level' }, { identifier: 'x', expression: 'nope' }], false);
    expect(run(p, 'level=info msg=hi').labels).toEqual({ lvl: 'info', x: '' });
  });
});

describe('unpack (Test_unpackParser_Parse)', () => {
  it('replaces the line with _entry and adds the string members', () => {
    const r = run(new UnpackParser(), '{"pod":"p1","app":"foo","_entry":"10.1.0.88 - GET /"}', { app: 'x' });
    expect(r.line).toBe('10.1.0.88 - GET /');
    expect(r.labels).toEqual({ app: 'x', app_extracted: 'foo', pod: 'p1' });
  });
  it('without _entry keeps the line and sets nothing; non-object is an error', () => {
    expect(run(new UnpackParser(), '{"pod":"p1"}').labels).toEqual({});
    expect(run(new UnpackParser(), 'x').labels.__error__).toBe('JSONParserErr');
  });
});

describe('pattern (pattern_test.go)', () => {
  it.each([
    ['<foo> bar <buzz>', 'foo bar buzz', ['foo', 'buzz']],
    ['<_> "<method> <path> <_>" <status>', '10.0.0.1 "GET /x HTTP/1.1" 200', ['GET', '/x', '200']],
    ['<ip> - - [<_>]', 'no leading match', ['no leading match']],
    ['[<ts>] <msg>', 'x[1] y', []],
    ['<a> <b> <c>', 'one two', ['one', 'two']],
  ])('%s on %s', (p, line, want) => {
    expect(matchPattern(compilePattern(p), line)).toEqual(want);
  });
  it('rejects bad patterns', () => {
    expect(() => compilePattern('<_> foo')).toThrow(/at least one capture/);
    expect(() => compilePattern('<a><b>')).toThrow(/consecutive capture/);
    expect(() => compilePattern('<a> <a>')).toThrow(/duplicate capture name/);
  });
  it('sets labels with the collision suffix', () => {
    expect(run(new PatternParser('<level> <msg>'), 'warn disk full', { level: 'x' }).labels).toEqual({ level: 'x', level_extracted: 'warn', msg: 'disk full' });
  });
});

describe('pattern fixtures (pattern_test.go: captures and Test)', () => {
  const fx = JSON.parse(readFileSync(new URL('../fixtures/logql/loki-pattern-fixtures.json', import.meta.url), 'utf8')) as { cases: Array<[string, string, string[], boolean]> };
  it.each(fx.cases)('%s on %s', (p, line, captures, matches) => {
    const c = compilePattern(p);
    expect(matchPattern(c, line)).toEqual(captures);
    expect(testPattern(c, line)).toBe(matches);
  });
  it('line filter patterns (Test_ParseLineFilter): only <_>, empty matches empty lines', () => {
    expect(new LinePattern('<_>').test('anything')).toBe(true);
    expect(new LinePattern('').test('')).toBe(true);
    expect(new LinePattern('').test('x')).toBe(false);
    expect(new LinePattern('foo <_> bar <_>').test('foo x bar y')).toBe(true);
    // A capture covers at least one character.
    expect(new LinePattern('foo <_> bar <_>').test('foo  bar y')).toBe(false);
    expect(new LinePattern('foo <_> bar <_>').test('foo x bar')).toBe(false);
    expect(() => new LinePattern('<foo <foo> bar <_>')).toThrow("named captures are not allowed: found '<foo>'");
  });
});

describe('regexp (Test_regexpParser_Parse)', () => {
  it('named groups become labels; no match sets nothing', () => {
    const p = new RegexpParser('(?P<ip>\\d+\\.\\d+\\.\\d+\\.\\d+) - (?P<user>\\S+) (?:x)?(\\d)?');
    expect(run(p, '127.0.0.1 - frank y').labels).toEqual({ ip: '127.0.0.1', user: 'frank' });
    expect(run(p, 'nothing').labels).toEqual({});
  });
  it('leftmost-first submatches as Go', () => {
    expect(run(new RegexpParser('(?P<a>a|ab)(?P<b>c|bcd)'), 'abcd').labels).toEqual({ a: 'a', b: 'bcd' });
    expect(run(new RegexpParser('(?P<a>a*?)(?P<b>a*)'), 'aaa').labels).toEqual({ a: '', b: 'aaa' });
    expect(run(new RegexpParser('(?i)(?P<w>straße)'), 'STRASSE Straße').labels).toEqual({ w: 'Straße' });
  });
  it('long lines (beyond the bounded backtracker) still get their groups, in linear time', () => {
    const p = new RegexpParser('(?P<a>(?:a|aa)+)(?P<b>b)');
    expect(run(p, `${'a'.repeat(30_000)}b`).labels).toEqual({ a: 'a'.repeat(30_000), b: 'b' });
    expect(run(p, `${'a'.repeat(30_000)}c`).labels).toEqual({});
  });
  it('rejects patterns without named groups or with duplicates', () => {
    expect(() => new RegexpParser('(a)')).toThrow(/at least one named capture/);
    expect(() => new RegexpParser('(?P<a>x)(?P<a>y)')).toThrow(/duplicate/);
  });
});

describe('drop, keep, decolorize', () => {
  it('drop by name and by matcher, __error__ clears the error', () => {
    const lb = new LabelsBuilder();
    lb.reset({ app: 'foo', env: 'prod' }, undefined);
    lb.setError('JSONParserErr', 'x');
    new DropStage([{ name: 'env', matcher: undefined }, { name: '__error__', matcher: undefined }, { name: 'app', matcher: { name: 'app', op: '=', value: 'bar', pos: { offset: 0, line: 1, column: 1 } } }], compileLabelRegex).process('l', lb);
    expect(lb.labels()).toEqual({ app: 'foo', __error_details__: 'x' });
  });
  it('keep keeps named/matching labels and the error labels', () => {
    const lb = new LabelsBuilder();
    lb.reset({ app: 'foo', env: 'prod', host: 'h' }, undefined);
    lb.setError('E', '');
    new KeepStage([{ name: 'app', matcher: undefined }, { name: 'env', matcher: { name: 'env', op: '=~', value: 'dev.*', pos: { offset: 0, line: 1, column: 1 } } }], compileLabelRegex).process('l', lb);
    expect(lb.labels()).toEqual({ app: 'foo', __error__: 'E' });
  });
  it('decolorize strips ANSI sequences', () => {
    expect(run(new DecolorizeStage(), '\u001b[31merror\u001b[0m: \u001b[1;32mok\u001b[0m').line).toBe('error: ok');
  });
});

describe('label filters (label_filter_test.go)', () => {
  const f = (node: LabelFilterExpr, labels: Record<string, string>): { pass: boolean; labels: Record<string, string> } => {
    const lb = new LabelsBuilder();
    lb.reset(labels, undefined);
    const pass = compileLabelFilter(node, compileLabelRegex)(lb);
    return { pass, labels: lb.labels() };
  };
  it('numeric: absent fails, unparsable keeps the line with LabelFilterErr', () => {
    expect(f({ k: 'number', name: 'status', op: '>=', value: 500 }, { status: '503' }).pass).toBe(true);
    expect(f({ k: 'number', name: 'status', op: '>=', value: 500 }, {}).pass).toBe(false);
    const bad = f({ k: 'number', name: 'status', op: '>=', value: 500 }, { status: 'abc' });
    expect(bad).toEqual({ pass: true, labels: { status: 'abc', __error__: 'LabelFilterErr', __error_details__: 'strconv.ParseFloat: parsing "abc": invalid syntax' } });
  });
  it('duration and bytes', () => {
    expect(f({ k: 'duration', name: 'took', op: '>', value: 250e6 }, { took: '1.5s' }).pass).toBe(true);
    expect(f({ k: 'duration', name: 'took', op: '>', value: 250e6 }, { took: '120ms' }).pass).toBe(false);
    expect(f({ k: 'duration', name: 'took', op: '>', value: 250e6 }, { took: '10' }).labels.__error_details__).toBe('time: missing unit in duration "10"');
    expect(f({ k: 'bytes', name: 'size', op: '>=', value: 2560 }, { size: '2.5KiB' }).pass).toBe(true);
    expect(f({ k: 'bytes', name: 'size', op: '>=', value: 2560 }, { size: '2.5KB' }).pass).toBe(false);
    expect(f({ k: 'bytes', name: 'size', op: '>=', value: 2560 }, { size: '3 parsecs' }).labels.__error_details__).toBe('unhandled size name: parsecs');
  });
  it('string matchers read "" for absent labels and __error__ from the error', () => {
    expect(f({ k: 'string', name: 'nope', op: '=', value: '' }, {}).pass).toBe(true);
    expect(f({ k: 'string', name: '__error__', op: '=', value: '' }, {}).pass).toBe(true);
    expect(f({ k: 'string', name: 'lvl', op: '=~', value: 'err|warn' }, { lvl: 'warning' }).pass).toBe(false);
  });
  it('and evaluates both sides; or short-circuits', () => {
    const and = f({ k: 'and', left: { k: 'string', name: 'a', op: '=', value: 'x' }, right: { k: 'number', name: 'n', op: '>', value: 1 } }, { a: 'y', n: 'bad' });
    expect(and).toMatchObject({ pass: false, labels: { __error__: 'LabelFilterErr' } });
    const or = f({ k: 'or', left: { k: 'string', name: 'a', op: '=', value: 'y' }, right: { k: 'number', name: 'n', op: '>', value: 1 } }, { a: 'y', n: 'bad' });
    expect(or).toEqual({ pass: true, labels: { a: 'y', n: 'bad' } });
  });
  it('ip', () => {
    expect(f({ k: 'ip', name: 'addr', op: '=', pattern: '192.168.0.0/16' }, { addr: '192.168.4.5' }).pass).toBe(true);
    expect(f({ k: 'ip', name: 'addr', op: '!=', pattern: '192.168.0.0/16' }, { addr: '192.168.4.5' }).pass).toBe(false);
    expect(f({ k: 'ip', name: 'addr', op: '=', pattern: '192.168.0.0/16' }, {}).pass).toBe(false);
  });
});

describe('ip() (ip_test.go)', () => {
  it.each([
    ['192.168.0.1', 'x 192.168.0.1 y', true],
    ['192.168.0.1', 'x 192.168.0.10 y', false],
    ['192.168.0.0/24', 'from 192.168.0.77:443', true],
    ['192.168.0.0/24', 'from 192.168.1.77', false],
    ['192.168.0.1-192.168.0.5', 'a=192.168.0.4', true],
    ['192.168.0.1-192.168.0.5', 'a=192.168.0.6', false],
    ['::1', 'addr [::1]:80', true],
    ['2001:db8::/32', 'peer 2001:db8:0:1::7 ok', true],
    ['10.0.0.0/8', 'id 010.1.1.1', false],
    ['::ffff:10.0.0.1', 'x 10.0.0.1', false],
  ])('%s in %s → %s', (pattern, line, want) => {
    expect(new IpFilter(pattern).test(line)).toBe(want);
  });
  it('rejects invalid patterns with Loki\'s message', () => {
    expect(() => new IpFilter('999.1.1.1')).toThrow('ip: invalid pattern: "999.1.1.1"');
  });
});

describe('Go conversions', () => {
  it('ParseFloat', () => {
    expect(parseGoFloat('1e3')).toEqual({ ok: true, value: 1000 });
    expect(parseGoFloat('+Inf')).toEqual({ ok: true, value: Infinity });
    expect(parseGoFloat('0x1p-2')).toEqual({ ok: true, value: 0.25 });
    expect(parseGoFloat('1_000')).toEqual({ ok: false, error: 'strconv.ParseFloat: parsing "1_000": invalid syntax' });
    expect(parseGoFloat('1e400')).toEqual({ ok: false, error: 'strconv.ParseFloat: parsing "1e400": value out of range' });
  });
  it('ParseDuration', () => {
    expect(parseGoDurationNs('1h2m3.5s')).toEqual({ ok: true, value: 3723.5e9 });
    expect(parseGoDurationNs('250µs')).toEqual({ ok: true, value: 250e3 });
    expect(parseGoDurationNs('-1.5ms')).toEqual({ ok: true, value: -1.5e6 });
    expect(parseGoDurationNs('1d')).toEqual({ ok: false, error: 'time: unknown unit "d" in duration "1d"' });
    expect(parseGoDurationNs('')).toEqual({ ok: false, error: 'time: invalid duration ""' });
  });
  it('humanize ParseBytes', () => {
    expect(parseHumanBytes('42')).toEqual({ ok: true, value: 42 });
    expect(parseHumanBytes('42 MB')).toEqual({ ok: true, value: 42e6 });
    expect(parseHumanBytes('42mib')).toEqual({ ok: true, value: 42 * 1024 * 1024 });
    expect(parseHumanBytes('1,024 kB')).toEqual({ ok: true, value: 1024000 });
    expect(parseHumanBytes('2.5KiB')).toEqual({ ok: true, value: 2560 });
  });
});
