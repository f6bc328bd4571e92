import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_OUTPUT, TemplateError, compileTemplate, type TemplateData } from '../../src/gotemplate/template.js';

const data = (over: Partial<TemplateData> = {}): TemplateData => ({
  labels: { host: '10.0.0.5', job: 'talos-kernel', 'weird-name': 'w' },
  value: 3,
  externalLabels: { cluster: 'home' },
  externalURL: 'https://grafana.example/sub',
  ...over,
});

const render = (text: string, over: Partial<TemplateData> = {}): string => compileTemplate(text, { name: '__alert_X' }).render(data(over));

function compileError(text: string): TemplateError {
  try {
    compileTemplate(text);
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateError);
    return e as TemplateError;
  }
  throw new Error(`expected ${JSON.stringify(text)} not to compile`);
}

describe('template variables and data', () => {
  it('exposes $labels, $value, $externalLabels, $externalURL and the dot forms', () => {
    expect(render('{{ $labels.host }} {{ .Labels.job }} {{ $value }} {{ .Value }}')).toBe('10.0.0.5 talos-kernel 3 3');
    expect(render('{{ $externalLabels.cluster }} {{ .ExternalLabels.cluster }} {{ $externalURL }} {{ .ExternalURL }}')).toBe(
      'home home https://grafana.example/sub https://grafana.example/sub',
    );
    expect(render('{{ index $labels "weird-name" }}')).toBe('w');
    expect(render('{{ externalURL }}|{{ pathPrefix }}')).toBe('https://grafana.example/sub|/sub');
  });

  it('renders a missing label as the empty string (missingkey=zero), not "<no value>"', () => {
    expect(render('[{{ $labels.nope }}][{{ .Labels.nope }}][{{ index $labels "nope" }}][{{ $externalLabels.nope }}]')).toBe('[][][][]');
  });

  it('formats $value like Go %v of a float64', () => {
    const cases: Array<[number, string]> = [
      [1, '1'],
      [0.5, '0.5'],
      [1e21, '1e+21'],
      [1e6, '1e+06'],
      [123456, '123456'],
      [1234567, '1.234567e+06'],
      [0.0001, '0.0001'],
      [0.00001, '1e-05'],
      [0.1 + 0.2, '0.30000000000000004'],
      [-0, '-0'],
      [NaN, 'NaN'],
      [Infinity, '+Inf'],
      [-Infinity, '-Inf'],
    ];
    for (const [v, want] of cases) expect(render('{{ $value }}', { value: v })).toBe(want);
  });

  it('passes text through untouched: no HTML escaping, static templates are returned as is', () => {
    const t = compileTemplate('<b>&"x"</b>');
    expect(t.isStatic).toBe(true);
    expect(t.render(data())).toBe('<b>&"x"</b>');
    expect(render('{{ "<b>&amp;" }}')).toBe('<b>&amp;');
    expect(compileTemplate('a {{ 1 }}').isStatic).toBe(false);
  });

  it('decodes Go string literals: escapes, raw strings, char constants', () => {
    expect(render('{{ "tab\\there\\nnl \\"q\\" \\\\ \\u00e9 \\x41\\101" }}')).toBe('tab\there\nnl "q" \\ é AA');
    expect(render('{{ `raw \\n {{ not an action` }}')).toBe('raw \\n {{ not an action');
    expect(render("{{ 'a' }} {{ '\\n' }}")).toBe('97 10');
  });
});

describe('template functions', () => {
  it('humanize family', () => {
    expect(render('{{ humanize $value }}', { value: 1234567 })).toBe('1.235M');
    expect(render('{{ $value | humanize }}', { value: 0.012 })).toBe('12m');
    expect(render('{{ humanize1024 $value }}', { value: 1048576 })).toBe('1Mi');
    expect(render('{{ humanizePercentage $value }}', { value: 0.1234 })).toBe('12.34%');
    expect(render('{{ humanizeDuration $value }}', { value: 3725.5 })).toBe('1h 2m 5s');
    expect(render('{{ humanizeDuration $value }}', { value: 0.05 })).toBe('50ms');
    expect(render('{{ humanizeTimestamp $value }}', { value: 1700000000.1234 })).toBe('2023-11-14 22:13:20.123 +0000 UTC');
    expect(render('{{ humanize "2048" }}')).toBe('2.048k');
  });

  it('printf verbs %s %d %f %.2f %v %q and Go error forms', () => {
    expect(render('{{ printf "%s=%d %f %.2f %v %q" "n" 42 1.5 $value $value $labels.host }}', { value: 2.345 })).toBe(
      'n=42 1.500000 2.35 2.345 "10.0.0.5"',
    );
    expect(render('{{ printf "%d" $value }}')).toBe('%!d(float64=3)');
    expect(render('{{ printf "%s %s" "a" }}')).toBe('a %!s(MISSING)');
    expect(render('{{ printf "%.1f|%.0f|%.0f|%.2f" 0.25 2.5 3.5 1.005 }}')).toBe('0.2|2|4|1.00');
    expect(render('{{ printf "%.20f" 0.1 }}')).toBe('0.10000000000000000555');
  });

  it('toUpper, toLower, title, reReplaceAll, match', () => {
    expect(render('{{ toUpper $labels.job }}|{{ toLower "AbC" }}|{{ title "disk sda-1 full" }}')).toBe('TALOS-KERNEL|abc|Disk Sda-1 Full');
    expect(render('{{ reReplaceAll "^(\\\\d+)\\\\..*$" "net-$1" $labels.host }}')).toBe('net-10');
    expect(render('{{ reReplaceAll "(?i)TALOS" "x" $labels.job }}')).toBe('x-kernel');
    expect(render('{{ if match "^10\\\\." $labels.host }}lan{{ else }}wan{{ end }}')).toBe('lan');
  });

  it('if/else with eq ne lt gt le ge and or not', () => {
    const t = '{{ if gt $value 10.0 }}high{{ else if ge $value 5.0 }}mid{{ else if and (lt $value 5.0) (ne $value 0.0) }}low{{ else }}zero{{ end }}';
    expect(render(t, { value: 11 })).toBe('high');
    expect(render(t, { value: 5 })).toBe('mid');
    expect(render(t, { value: 1 })).toBe('low');
    expect(render(t, { value: 0 })).toBe('zero');
    expect(render('{{ if or (eq $labels.job "x") (not $labels.nope) }}y{{ end }}|{{ if le 1.0 $value }}z{{ end }}')).toBe('y|z');
  });

  it('range over $labels in key order, with break/continue and else', () => {
    expect(render('{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}')).toBe('host=10.0.0.5;job=talos-kernel;weird-name=w;');
    expect(render('{{ range $labels }}{{ if eq . "w" }}{{ break }}{{ end }}[{{ . }}]{{ end }}')).toBe('[10.0.0.5][talos-kernel]');
    expect(render('{{ range $k, $v := $labels }}{{ if eq $k "job" }}{{ continue }}{{ end }}{{ $k }} {{ end }}')).toBe('host weird-name ');
    expect(render('{{ range $externalLabels }}x{{ else }}none{{ end }}', { externalLabels: {} })).toBe('none');
  });

  it('with/else with (Go >= 1.23, as current Loki builds use)', () => {
    expect(render('{{ with $labels.nope }}a{{ else with $labels.job }}{{ . }}{{ else }}c{{ end }}')).toBe('talos-kernel');
    expect(render('{{ with $labels.nope }}a{{ else with $labels.nope2 }}b{{ else }}c{{ end }}')).toBe('c');
  });

  it('trim markers and comments', () => {
    expect(render('a  {{- $value -}}  b')).toBe('a3b');
    expect(render('a {{- /* note */ -}}\n  b{{/* gone */}}')).toBe('ab');
    expect(render('{{-3}}')).toBe('-3'); // `{{-3}}` is the number -3, not a trim marker
  });
});

describe('template runtime errors render as Prometheus does, never throw', () => {
  it('reports the failing node and position in the <error expanding template: …> text', () => {
    expect(render('{{ .Nope }}')).toBe(
      '<error expanding template: error executing template __alert_X: template: __alert_X:1:115: executing "__alert_X" at <.Nope>: ' +
        "can't evaluate field Nope in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }>",
    );
    expect(render('x\n  {{ humanize "abc" }}')).toBe(
      '<error expanding template: error executing template __alert_X: template: __alert_X:2:5: executing "__alert_X" at <humanize "abc">: ' +
        'error calling humanize: strconv.ParseFloat: parsing "abc": invalid syntax>',
    );
    expect(render('{{ gt $value 0 }}')).toContain('error calling gt: incompatible types for comparison>');
  });

  it('bounds execution time and output size', () => {
    const nested = '{{ range $labels }}'.repeat(12) + 'x' + '{{ end }}'.repeat(12);
    expect(render(nested)).toMatch(/^<error expanding template: .*execution exceeded 100000 steps>$/);
    expect(render('{{ printf "%999999s" "x" }}')).toMatch(new RegExp(`output exceeds ${MAX_OUTPUT} characters>$`));
  });

  it('never throws from render, and compile throws only TemplateError (fuzzed)', () => {
    const tokens = ['{{', '}}', '{{-', '-}}', ' ', '$labels', '$value', '.Labels', '.x', '"s"', '1', '2.5', '|', '(', ')', 'if', 'else', 'end', 'range', 'with',
      'printf', 'humanize', 'eq', 'and', 'index', '$x', ':=', '=', ',', 'break', 'text', '\n', '/*', '*/', 'nil', 'true', 'len', 'slice', 'reReplaceAll', '`'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...tokens), { maxLength: 30 }), fc.double(), (parts, value) => {
        const text = parts.join('');
        let t;
        try {
          t = compileTemplate(text);
        } catch (e) {
          expect(e).toBeInstanceOf(TemplateError);
          return;
        }
        const out = t.render(data({ value }));
        expect(typeof out).toBe('string');
      }),
      { numRuns: 3000 },
    );
  });
});

describe('template compile errors carry the position in the text', () => {
  const cases: Array<[string, string, number, number]> = [
    ['{{ foo }}', 'function "foo" not defined', 1, 4],
    ['ab\n  {{ $x }}', 'undefined variable "$x"', 2, 6],
    ['{{ if }}x{{ end }}', 'missing value for if', 1, 7],
    ['{{ end }}', 'unexpected {{end}}', 1, 4],
    ['{{ else }}', 'unexpected {{else}}', 1, 4],
    ['line1\n{{ if true }}', 'unexpected EOF', 2, 14],
    ['{{ "abc }}', 'unterminated quoted string', 1, 4],
    ['x {{ .Labels.x', 'unclosed action', 1, 3],
    ['{{ (1 }}', 'unclosed left paren', 1, 7],
    ['{{ range $a, $b, $c := $labels }}{{ end }}', 'too many declarations in range', 1, 16],
    ['{{ break }}', '{{break}} outside {{range}}', 1, 4],
    ['{{ 1 | 2 }}', 'non executable command in pipeline stage 2', 1, 8],
    ['{{ 3x }}', 'bad number syntax: "3x"', 1, 4],
    ['{{ $labels.x y }}', 'function "y" not defined', 1, 14],
    ['{{ # }}', "unrecognized character in action: U+0023 '#'", 1, 4],
    ['{{/* open', 'unclosed comment', 1, 1],
  ];
  for (const [text, reason, line, column] of cases) {
    it(`${JSON.stringify(text)} → ${reason}`, () => {
      const e = compileError(text);
      expect({ reason: e.reason, line: e.line, column: e.column, unsupported: e.unsupported }).toEqual({ reason, line, column, unsupported: false });
      expect(e.message).toBe(`template: ${line}:${column}: ${reason}`);
    });
  }

  it('flags what exists in Prometheus but not here as unsupported', () => {
    for (const text of ['{{ query "up" }}', '{{ define "x" }}{{ end }}', '{{ template "x" }}', '{{ toTime 1.0 }}', '{{ 1i }}']) {
      expect(compileError(text).unsupported, text).toBe(true);
    }
  });
});
