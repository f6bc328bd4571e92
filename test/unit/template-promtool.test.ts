/**
 * Parity with the real thing: every template below is rendered by promtool
 * (Prometheus's own alert templating, `promtool test rules`) and by ours, for
 * the same labels, external labels and a range of sample values; the texts
 * must be identical, error messages included.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileTemplate } from '../../src/gotemplate/template.js';

const PROMTOOL = '/usr/bin/promtool';

const LABELS = { job: 'talos-kernel', host: 'node-1.example.com:9100', svc: 'kubelet', uni: 'é ü ß' };
const EXTERNAL_LABELS = { cluster: 'home' };
const EXTERNAL_URL = 'http://grafana.example/sub';

const VALUES = [
  1, 0.5, 1e21, 1e6, 123456789, 0.00001, -2.5, 0, NaN, Infinity, -Infinity, 0.1, 3e-9, 86400.7, 1.5e-3, -0.25, 1234567, 2.5, 0.125,
  1e-7, 100, 12345.678, 999999.5, 3600, 59.99999,
];

const TEMPLATES: string[] = [
  // values
  '{{ $value }}|{{ .Value }}',
  '{{ printf "%.2f" $value }}|{{ $value | printf "%.1f" }}',
  '{{ printf "%v|%g|%e|%E|%.3g|%6.2f|%-8.1f|%+.1e|%08.3f|% .2f|%G|%.0f|%.10g" $value $value $value $value $value $value $value $value $value $value $value $value $value }}',
  '{{ humanize $value }}|{{ humanize1024 $value }}|{{ humanizeDuration $value }}|{{ humanizePercentage $value }}',
  '{{ humanizeTimestamp $value }}',
  '{{ humanize "12345" }}|{{ humanize 1000 }}|{{ humanize1024 "1048576" }}',
  // labels
  '{{ $labels.host }}|{{ $labels.missing }}|{{ index $labels "host" }}|{{ .Labels.job }}|{{ index $labels "nope" }}',
  '{{ $labels }}|{{ $externalLabels }}|{{ $externalLabels.cluster }}|{{ $externalURL }}|{{ .ExternalURL }}',
  '{{ . }}',
  '{{ printf "%q|%x|%5.2s|%-12s|%s" $labels.host $labels.svc $labels.svc $labels.svc $labels.uni }}',
  '{{ len $labels }}|{{ len $labels.uni }}|{{ len "" }}',
  // control flow
  '{{ if gt $value 1.0 }}big{{ else if eq $value 1.0 }}one{{ else }}small{{ end }}',
  '{{ if $value }}nonzero{{ else }}zero{{ end }}|{{ if and $labels.job (not $labels.nope) }}ok{{ end }}',
  '{{ with $labels.host }}H={{ . }}{{ else }}none{{ end }}|{{ with $labels.nope }}N{{ else }}E{{ end }}',
  '{{ range $k, $v := $labels }}{{ $k }}={{ $v }},{{ end }}',
  '{{ range $labels }}[{{ . }}]{{ end }}|{{ range $v := $externalLabels }}<{{ $v }}>{{ end }}',
  '{{ range $k, $v := $labels }}{{ if eq $k "job" }}{{ break }}{{ end }}{{ $k }};{{ end }}|{{ range $k, $v := $labels }}{{ if eq $k "host" }}{{ continue }}{{ end }}{{ $k }};{{ end }}',
  '{{ range $externalLabels }}x{{ else }}empty{{ end }}|{{ range $k, $v := $labels }}{{ end }}done',
  '{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}|{{ $labels := 5 }}{{ $labels }}',
  '{{ and 1 0 "x" }}|{{ or 0 "" "y" }}|{{ or 0 "" }}|{{ not 0 }}|{{ not "a" }}',
  '{{ eq "a" "a" "b" }}|{{ eq $labels.job "y" "talos-kernel" }}|{{ ne 1 2 }}|{{ lt "a" "b" }}|{{ le 1.5 1.5 }}|{{ eq true true }}|{{ ge $value 1.0 }}',
  // functions
  '{{ toUpper $labels.svc }}|{{ toLower "ÀB" }}|{{ toUpper "straße" }}|{{ title "hello wORLD-x élan_b c.d" }}',
  '{{ reReplaceAll `(\\w+)\\.example\\.com` "${1}" $labels.host }}|{{ reReplaceAll "a*" "-" "baaac" }}|{{ reReplaceAll "(?P<x>a)(b)" "[${x}$2$$]" "abab" }}|{{ reReplaceAll "^a" "X" "aa" }}|{{ reReplaceAll "" "-" "héé" }}|{{ reReplaceAll "(a)b" "$1X" "abab" }}',
  '{{ match "^node" $labels.host }}|{{ match "(?i)KUBE" $labels.svc }}|{{ match "x" "y" }}',
  '{{ stripPort $labels.host }}|{{ stripDomain $labels.host }}|{{ stripPort "[::1]:80" }}|{{ stripDomain "10.0.0.1:80" }}|{{ stripDomain "a.b" }}',
  '{{ graphLink "sum(x) > 0" }}|{{ tableLink "up" }}|{{ safeHtml "<b>" }}',
  '{{ print 1 2 "a" "b" 3.5 true }}|{{ println "x" 1 }}|{{ html "<a&b>\\"\'" }}|{{ urlquery "a b&c/d é" }}|{{ js "a\'b\\"<c>" }}',
  '{{ index "abc" 1 }}|{{ slice "abcdef" 1 3 }}|{{ slice "abcdef" 2 }}',
  '{{ printf "%d %s" 1 }}|{{ printf "%d" 1 2 }}|{{ printf "%z" 1 }}|{{ printf "%d" "s" }}|{{ printf "%s" 1.5 }}|{{ printf "%v %v" $labels nil }}|{{ printf "%s" true }}',
  '{{ printf "%.3s|%8.3f|%-8.2e|% d|%#x|%#o|%x|%X|%o|%b|%c|%q|%U|%t|%%" "abcdef" 3.14159 1234.5 5 255 8 -255 255 8 5 65 65 65 true }}',
  '{{ printf "%[2]d %[1]s" "a" 2 }}|{{ printf "%*d" 5 3 }}|{{ printf "%" }}|{{ printf "%!" }}|{{ printf "%-+8.3e|%08.3f|%+08d|% 05d" 1.5 -2.5 42 7 }}',
  '{{ printf "%6.2v|%.3v|%10v|%-10v|" 3.14159 "abcdef" $labels.job true }}|{{ printf "%t|%v|%d" 1 true 1.5 }}',
  // literals and whitespace
  "{{ 0x1F }}|{{ 1_000 }}|{{ 1e3 }}|{{ 0.5e-2 }}|{{ -3 }}|{{ +4 }}|{{ 0o17 }}|{{ 017 }}|{{ 'a' }}|{{ .5 }}|{{ 1.0 }}|{{ 2e0 }}|{{ 0x1p4 }}",
  '{{ "a\\tb\\u00e9\\x41\\101" }}|{{ `raw\\n` }}|{{ "\\"q\\"" }}',
  '{{- " a " -}} b {{- 3 -}} |  {{- /* comment */ -}}  | x {{/* c2 */}} y',
  'line one\n  {{- $labels.svc }}\nline three {{ $value -}}\n\n end',
  '{{ (index $labels "svc") | toUpper | printf "%s!" }}|{{ (printf "%s-%s" $labels.job $labels.svc) }}',
  '{{ 1 | }}|{{ true }}|{{ false }}',
  // execution errors (the text must match Prometheus's, position included)
  '{{ .Foo }}',
  '{{ humanize "abc" }}',
  '{{ reReplaceAll "(" "" "x" }}',
  '{{ 3 4 }}',
  '{{ .Labels.x.y.z }}',
  '{{ index $labels 1 }}',
  '{{ toUpper $value }}',
  '{{ toUpper 3 }}',
  '{{ len $value }}',
  '{{ printf }}',
  '{{ slice "abc" 2 1 }}',
  '{{ $value | .Labels.x }}',
  'first line\nsecond {{ .Nope }}',
  '{{ gt $value 0 }}',
  '{{ eq 1 1.0 }}',
  '{{ lt true false }}',
  '{{ match "[" "x" }}',
  '{{ range "ab" }}x{{ end }}',
  '{{ and }}',
  '{{ (printf "%s" "x").y }}',
  '{{ $labels.job.x }}',
  '{{ not 1 2 }}',
  '{{ 9223372036854775808 }}',
  '{{ $labels.host | printf "%s" | len | printf "%05d" }}',
];

function goUnquote(s: string, start: number): [string, number] {
  // s[start] is the opening quote; returns the value and the index after the closing quote.
  const bytes: number[] = [];
  const enc = new TextEncoder();
  let i = start + 1;
  for (;;) {
    const c = s[i]!;
    if (c === '"') return [new TextDecoder().decode(new Uint8Array(bytes)), i + 1];
    if (c !== '\\') {
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      for (const b of enc.encode(ch)) bytes.push(b);
      i += ch.length;
      continue;
    }
    const e = s[i + 1]!;
    i += 2;
    const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, "'": 39 };
    if (simple[e] !== undefined) bytes.push(simple[e]!);
    else if (e === 'x') {
      bytes.push(parseInt(s.slice(i, i + 2), 16));
      i += 2;
    } else if (e === 'u' || e === 'U') {
      const len = e === 'u' ? 4 : 8;
      for (const b of enc.encode(String.fromCodePoint(parseInt(s.slice(i, i + len), 16)))) bytes.push(b);
      i += len;
    } else if (/[0-7]/.test(e)) {
      bytes.push(parseInt(s.slice(i - 1, i + 2), 8));
      i += 2;
    } else throw new Error(`bad escape \\${e}`);
  }
}

/** `{a0="…", a1="…"}` (Go labels.Labels.String) → map. */
function parseAnnotations(line: string): Map<string, string> {
  const out = new Map<string, string>();
  let i = line.indexOf('{') + 1;
  while (i < line.length && line[i] !== '}') {
    const eq = line.indexOf('=', i);
    const name = line.slice(i, eq);
    const [v, next] = goUnquote(line, eq + 1);
    out.set(name, v);
    i = next;
    if (line.startsWith(', ', i)) i += 2;
  }
  return out;
}

function seriesValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

describe('templates render exactly as Prometheus does (promtool oracle)', () => {
  let dir: string;
  /** [value index] → annotation name → promtool's text */
  const expected: Array<Map<string, string>> = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tmpl-oracle-'));
    const annotations = TEMPLATES.map((t, i) => `      a${i}: ${JSON.stringify(t)}`).join('\n');
    writeFileSync(
      join(dir, 'rules.yaml'),
      `groups:\n- name: g\n  rules:\n  - alert: A\n    expr: max by (job, host, svc, uni) (m)\n    annotations:\n${annotations}\n`,
    );
    const labels = Object.entries(LABELS)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(',');
    const evals = VALUES.map((_, i) => `  - eval_time: ${i}m\n    alertname: A\n    exp_alerts: []\n`).join('');
    writeFileSync(
      join(dir, 'test.yaml'),
      `rule_files: [rules.yaml]\nevaluation_interval: 1m\ntests:\n- interval: 1m\n  external_labels:\n    cluster: ${EXTERNAL_LABELS.cluster}\n  external_url: ${EXTERNAL_URL}\n` +
        `  input_series:\n  - series: '{__name__="m",${labels}}'\n    values: '${VALUES.map(seriesValue).join(' ')}'\n  alert_rule_test:\n${evals}`,
    );
    // The unit tests "fail" on purpose (no expected alerts): their got-lists are the oracle.
    const res = spawnSync(PROMTOOL, ['test', 'rules', 'test.yaml'], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    const lines = `${res.stdout}\n${res.stderr}`.split('\n');
    let cur = -1;
    for (const line of lines) {
      if (line.includes('alertname: A, time:')) {
        const m = /time: (?:(\d+)m)?(?:(\d+)s)?/.exec(line)!;
        cur = Number(m[1] ?? 0) + Number(m[2] ?? 0) / 60;
        continue;
      }
      if (line.includes('Annotations:{') && cur >= 0) expected[cur] = parseAnnotations(line.slice(line.indexOf('Annotations:')));
    }
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('promtool produced an annotation set for every value', () => {
    expect(expected.filter(Boolean)).toHaveLength(VALUES.length);
    expect(expected[0]!.size).toBe(TEMPLATES.length);
  });

  TEMPLATES.forEach((text, ti) => {
    it(`template ${ti}: ${JSON.stringify(text).slice(0, 70)}`, () => {
      const tmpl = compileTemplate(text, { name: '__alert_A' });
      for (let vi = 0; vi < VALUES.length; vi++) {
        const want = expected[vi]!.get(`a${ti}`);
        const got = tmpl.render({ labels: LABELS, value: VALUES[vi]!, externalLabels: EXTERNAL_LABELS, externalURL: EXTERNAL_URL });
        expect({ value: VALUES[vi], got }).toEqual({ value: VALUES[vi], got: want });
      }
    });
  });
});

/** Templates Go's parser accepts or rejects; ours must agree on every one. */
const PARSE_CASES: string[] = [
  // rejected by Go
  '{{ foo }}',
  '{{ $x }}',
  '{{ if }}x{{ end }}',
  '{{ .Labels.x',
  '{{ end }}',
  'line1\n{{ if true }}',
  '{{ "abc }}',
  '{{ $labels.x y }}',
  '{{ range $a, $b, $c := $labels }}{{ end }}',
  '{{ break }}',
  '{{ else }}',
  '{{ (1 }}',
  '{{ 1) }}',
  '{{ 1 | 2 }}',
  '{{ 3x }}',
  '{{ # }}',
  '{{/* open',
  '{{/* c */ x }}',
  '{{ $x=1 }}',
  "{{ 'ab' }}",
  '{{ "\\q" }}',
  '{{ with $x := 1 }}{{ $x }}{{ end }}{{ $x }}',
  '{{ 1.2.3 }}',
  '{{ 18446744073709551616 }}',
  '{{ "a".x }}',
  '{{ if true }}{{ else }}{{ else }}{{ end }}',
  '{{ range $labels }}{{ else if true }}{{ end }}',
  '{{ $x := }}',
  '{{ : }}',
  '{{ | }}',
  '{{ }}',
  '{{ if true }}{{ end',
  '{{ $labels,$value := 1 }}',
  // accepted by Go
  '{{ 1 | }}',
  '{{ if true }}a{{ else if false }}b{{ else }}c{{ end }}',
  '{{ with $x := 1 }}{{ $x }}{{ end }}',
  '{{ range $i := $labels }}{{ end }}',
  '{{ $labels := 1 }}',
  '{{- 3 -}}',
  '{{ (1) }}|{{ ( 1 ) }}',
  '{{ nil }}',
  '{{ $ }}',
  '{{ .Labels.x.y }}',
  '{{ 9223372036854775808 }}',
  '{{ 0x1F }}{{ 1_000 }}{{ 0o17 }}{{ 0b101 }}',
  '{{ range $k, $v := $labels }}{{ break }}{{ continue }}{{ end }}',
  '{{ "\\u00e9\\x41" }}',
  '{{/* only a comment */}}',
  '{{ $value | printf "%.2f" | printf "%s!" }}',
  // (`{{ else with }}` is accepted too, as by Go >= 1.23 that current Loki is built with; promtool 2.42's Go 1.19 predates it.)
];

describe('templates parse or fail exactly where Prometheus does (promtool check rules)', () => {
  it('agrees with Go text/template on every case', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tmpl-parse-'));
    try {
      const annotations = PARSE_CASES.map((t, i) => `      p${i}: ${JSON.stringify(t)}`).join('\n');
      writeFileSync(join(dir, 'rules.yaml'), `groups:\n- name: g\n  rules:\n  - alert: A\n    expr: m > 0\n    annotations:\n${annotations}\n`);
      const res = spawnSync(PROMTOOL, ['check', 'rules', 'rules.yaml'], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
      const rejectedByGo = new Set<string>();
      for (const m of `${res.stdout}\n${res.stderr}`.matchAll(/annotation "(p\d+)": template:/g)) rejectedByGo.add(m[1]!);
      const rejectedByUs = new Set<string>();
      PARSE_CASES.forEach((t, i) => {
        try {
          compileTemplate(t);
        } catch {
          rejectedByUs.add(`p${i}`);
        }
      });
      const show = (s: Set<string>): string[] => [...s].sort().map((k) => `${k} ${JSON.stringify(PARSE_CASES[Number(k.slice(1))])}`);
      expect(show(rejectedByUs)).toEqual(show(rejectedByGo));
      expect(rejectedByGo.size).toBeGreaterThan(20);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
