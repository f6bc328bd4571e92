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

  it('__timestamp__ and the time functions (fmt_test.go "timestamp", "timestamp_unix")', () => {
    const lb = new LabelsBuilder();
    lb.reset({ bar: '2' }, undefined);
    const ctx = { timeMs: 1656331200000, timeNsRem: 0 };
    expect(new LineFormatStage('{{ __timestamp__ | date "2006-01-02" }} bar {{ .bar }}').process('1', lb, ctx)).toBe('2022-06-27 bar 2');
    expect(new LineFormatStage('{{ __timestamp__ | unixEpoch }} bar {{ .bar }}').process('1', lb, ctx)).toBe('1656331200 bar 2');
    expect(new LineFormatStage('{{ __timestamp__ | unixEpochMillis }} {{ __timestamp__ | unixEpochNanos }}').process('1', lb, { timeMs: 1656331200123, timeNsRem: 456 })).toBe('1656331200123 1656331200123000456');
    expect(new LineFormatStage('{{ __timestamp__ }}').process('1', lb, { timeMs: 1656331200120, timeNsRem: 0 })).toBe('2022-06-27 12:00:00.12 +0000 UTC');
    expect(new LineFormatStage('{{ __timestamp__ | date "Jan _2 15:04:05.000 MST Mon 06 3PM Z07:00" }}').process('1', lb, { timeMs: 1656331200120, timeNsRem: 0 })).toBe('Jun 27 12:00:00.120 UTC Mon 22 12PM Z');
  });

  it('unixToTime (Test_labelsFormatter_Format epoch cases)', () => {
    expect(label([tmpl('foo', '{{ .foo | unixToTime }}')], { foo: '19503' })).toEqual({ foo: '2023-05-26 00:00:00 +0000 UTC' });
    expect(label([tmpl('foo', '{{ .foo | unixToTime }}')], { foo: '1679577215' })).toEqual({ foo: '2023-03-23 13:13:35 +0000 UTC' });
    expect(label([tmpl('foo', '{{ .foo | unixToTime }}')], { foo: '1257894000000' })).toEqual({ foo: '2009-11-10 23:00:00 +0000 UTC' });
    expect(label([tmpl('foo', '{{ .foo | unixToTime }}')], { foo: '1673798889902000' })).toEqual({ foo: '2023-01-15 16:08:09.902 +0000 UTC' });
    expect(label([tmpl('foo', '{{ .foo | unixToTime }}')], { foo: '1000000000000000000' })).toEqual({ foo: '2001-09-09 01:46:40 +0000 UTC' });
  });

  it('parsing dates from text is refused as unsupported', () => {
    expect(() => new LineFormatStage('{{ toDate "2006-01-02" .d }}')).toThrow(FormatUnsupported);
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
