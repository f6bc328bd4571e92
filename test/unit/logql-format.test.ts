/**
 * line_format / label_format with Loki's function set; cases from
 * pkg/logql/log/fmt_test.go (Test_lineFormatter_Format, Test_labelsFormatter_Format).
 */
import { describe, expect, it } from 'vitest';
import { LabelFormatStage, LineFormatStage, FormatUnsupported } from '../../src/logql/stages/format.js';
import { LabelsBuilder } from '../../src/logql/stages/labels-builder.js';
import type { LabelFormatItem } from '../../src/logql/ast.js';

const CTX = { timeMs: 0, timeNsRem: 0 };

function line(tmpl: string, labels: Record<string, string>, input = ''): { line: string; labels: Record<string, string> } {
  const lb = new LabelsBuilder();
  lb.reset(labels, undefined);
  const out = new LineFormatStage(tmpl).process(input, lb, CTX);
  return { line: out, labels: lb.labels() };
}

const rename = (dst: string, src: string): LabelFormatItem => ({ dst, rename: src, template: undefined });
const tmpl = (dst: string, t: string): LabelFormatItem => ({ dst, rename: undefined, template: t });

function label(items: LabelFormatItem[], labels: Record<string, string>): Record<string, string> {
  const lb = new LabelsBuilder();
  lb.reset(labels, undefined);
  new LabelFormatStage(items).process('1', lb, CTX);
  return lb.labels();
}

describe('line_format (Test_lineFormatter_Format)', () => {
  const L = { foo: 'blip', bar: 'blop' };
  it.each([
    ['combining', 'foo{{.foo}}buzz{{  .bar  }}', L, 'fooblipbuzzblop'],
    ['Replace', 'foo{{.foo}}buzz{{ Replace .bar "blop" "bar" -1 }}', L, 'fooblipbuzzbar'],
    ['replace', 'foo{{.foo}}buzz{{ .bar | replace "blop" "bar" }}', L, 'fooblipbuzzbar'],
    ['title', '{{.foo | title }}', L, 'Blip'],
    ['substr and trunc', '{{.foo | substr 1 3 }} {{ .bar  | trunc 1 }} {{ .bar  | trunc 3 }}', L, 'li b blo'],
    ['trim', '{{.foo | trim }} {{ .bar  | trimAll "op" }} {{ .bar  | trimPrefix "b" }} {{ .bar  | trimSuffix "p" }}', { foo: '  blip ', bar: 'blop' }, 'blip bl lop blo'],
    ['missing', 'foo {{.foo}}buzz{{  .bar  }}', { bar: 'blop' }, 'foo buzzblop'],
    ['function', 'foo {{.foo | ToUpper }} buzz{{  .bar  }}', L, 'foo BLIP buzzblop'],
    ['mathint', '{{ add .foo 1 | sub .bar | mul .baz | div .bazz}}', { foo: '1', bar: '3', baz: '10', bazz: '20' }, '2'],
    ['mathfloat', '{{ addf .foo 1.5 | subf .bar 1.5 | mulf .baz | divf .bazz }}', { foo: '1.5', bar: '5', baz: '10.5', bazz: '20.2' }, '3.8476190476190477'],
    ['count', '{{.foo | count "abc" }}', { foo: 'abc abc abc', bar: 'blop' }, '3'],
    ['count regex', '{{.foo | count "a|b|c" }}', { foo: 'abc abc abc', bar: 'blop' }, '9'],
    ['regexReplaceAll', '{{ regexReplaceAll "(\\\\w+)@(\\\\w+)" .foo "${2}:$1" }}', { foo: 'user@host' }, 'host:user'],
    ['default', '{{.foo | default "-" }}{{.bar | default "-"}}{{.unknown | default "-"}}', { foo: 'blip', bar: '' }, 'blip--'],
    ['alignLeft', '{{ alignLeft 4 .foo }}', { foo: 'hello' }, 'hell'],
    ['alignRight', '{{ alignRight 4 .foo }}', { foo: 'hello' }, 'ello'],
    ['b64enc/b64dec', '{{ .foo | b64enc }} {{ b64dec "aGVsbG8" }}', { foo: 'hi' }, 'aGk= hello'],
    ['bytes/duration', '{{ bytes .s }} {{ duration .d }}', { s: '2KiB', d: '1m30s' }, '2048 90'],
    ['printf and if', '{{ if eq .lvl "error" }}{{ printf "%s!" .msg }}{{ else }}ok{{ end }}', { lvl: 'error', msg: 'boom' }, 'boom!'],
  ])('%s', (_n, t, labels, want) => {
    expect(line(t, labels).line).toBe(want);
  });

  it('__line__ is the current line', () => {
    expect(line('{{ __line__ }} bar {{ .bar }}', { bar: '2' }, '1').line).toBe('1 bar 2');
  });

  it('an execution error sets TemplateFormatErr and keeps the line', () => {
    const r = line('{{ div .a 0 }}', { a: '1' }, 'orig');
    expect(r.line).toBe('orig');
    expect(r.labels.__error__).toBe('TemplateFormatErr');
  });

  it('Go time functions are refused as unsupported', () => {
    expect(() => new LineFormatStage('{{ __timestamp__ | date "2006-01-02" }}')).toThrow(FormatUnsupported);
    expect(() => new LineFormatStage('{{ nope }}')).toThrow(/function "nope" not defined/);
  });
});

describe('label_format (Test_labelsFormatter_Format)', () => {
  const L = { foo: 'blip', bar: 'blop' };
  it.each([
    ['rename label', [rename('baz', 'foo')], L, { bar: 'blop', baz: 'blip' }],
    ['rename and overwrite existing label', [rename('bar', 'foo')], L, { bar: 'blip' }],
    ['combined with template', [tmpl('foo', '{{.foo}} and {{.bar}}')], L, { foo: 'blip and blop', bar: 'blop' }],
    ['combined with template and rename', [tmpl('blip', '{{.foo}} and {{.bar}}'), rename('bar', 'foo')], L, { blip: 'blip and blop', bar: 'blip' }],
    ['fn', [tmpl('blip', '{{.foo | ToUpper }} and {{.bar}}'), rename('bar', 'foo')], L, { blip: 'BLIP and blop', bar: 'blip' }],
    ['math', [tmpl('status', '{{div .status 100 }}')], { status: '200' }, { status: '2' }],
    ['default', [tmpl('blip', '{{.foo | default "-" }} and {{.bar}}')], { bar: 'blop' }, { blip: '- and blop', bar: 'blop' }],
    ['line', [tmpl('line', '{{ __line__ }}')], { bar: 'blop' }, { line: '1', bar: 'blop' }],
  ])('%s', (_n, items, labels, want) => {
    expect(label(items, labels)).toEqual(want);
  });

  it('template error', () => {
    expect(label([tmpl('bar', '{{replace "test" .foo}}')], L)).toEqual({
      foo: 'blip',
      bar: 'blop',
      __error__: 'TemplateFormatErr',
      __error_details__: 'template: label:1:2: executing "label" at <replace>: wrong number of args for replace: want 3 got 2',
    });
  });

  it('refuses __error__ and duplicates', () => {
    expect(() => new LabelFormatStage([tmpl('__error__', 'x')])).toThrow('__error__ cannot be formatted');
    expect(() => new LabelFormatStage([tmpl('a', 'x'), rename('a', 'b')])).toThrow(/multiple label name 'a'/);
  });
});
