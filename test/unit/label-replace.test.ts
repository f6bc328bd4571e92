/**
 * label_replace: Go's Regexp.Expand template rules (regexp package docs:
 * "$1x is equivalent to ${1x}, not ${1}x", "$$" is a literal $, unknown or
 * unmatched groups expand to nothing) and Loki's LabelReplaceEvaluator
 * behaviour (anchored regex, no match leaves the sample, empty result
 * removes dst).
 */
import { describe, expect, it } from 'vitest';
import { expandTemplate } from '../../src/re2/expand-template.js';
import { labelReplace } from '../../src/rules/label-replace.js';
import type { LabelReplaceExpr } from '../../src/logql/ast.js';

const pos = { offset: 0, line: 1, column: 1 };
const lr = (dst: string, replacement: string, src: string, regex: string): LabelReplaceExpr => ({
  type: 'label_replace',
  inner: { type: 'vector', value: 0, pos },
  dst,
  replacement,
  src,
  regex,
  pos,
});

describe('expandTemplate (Go Regexp.Expand)', () => {
  const groups = ['whole', 'a', 'b'];
  const names = [undefined, 'first', undefined];
  it.each([
    ['$1', 'a'],
    ['${1}x', 'ax'],
    ['$1x', ''],
    ['$first-$2', 'a-b'],
    ['${first}', 'a'],
    ['$$1', '$1'],
    ['$9', ''],
    ['$nope', ''],
    ['cost: $', 'cost: $'],
    ['${1', '${1'],
  ])('%s → %s', (tpl, want) => {
    expect(expandTemplate(tpl, groups, names)).toBe(want);
  });
});

describe('labelReplace', () => {
  const v = [{ labels: { host: 'node-1.example', job: 'k' }, value: 3 }];
  it('sets dst from the anchored match', () => {
    expect(labelReplace(lr('node', '$1', 'host', '([^.]+)\\..*'), v)).toEqual([{ labels: { host: 'node-1.example', job: 'k', node: 'node-1' }, value: 3 }]);
  });
  it('no match (the regex is anchored) leaves the sample unchanged', () => {
    expect(labelReplace(lr('node', '$1', 'host', 'node'), v)).toEqual(v);
  });
  it('an empty replacement removes dst; a missing src label is the empty string', () => {
    expect(labelReplace(lr('job', '', 'host', '.*'), v)).toEqual([{ labels: { host: 'node-1.example' }, value: 3 }]);
    expect(labelReplace(lr('x', 'empty', 'missing', ''), v)).toEqual([
      { labels: { host: 'node-1.example', job: 'k', x: 'empty' }, value: 3 },
    ]);
  });
  it('named groups (?P<name>…) by name', () => {
    expect(labelReplace(lr('n', '${num}', 'host', 'node-(?P<num>[0-9]+).*'), v)[0]!.labels.n).toBe('1');
  });
});
