/**
 * Rule-file validation: every class of error names file, position, group and
 * rule; valid files (the seed rules first) load into the right definitions.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';
import { RuleLoadError, RuleLoadErrors, loadRuleFile, loadRuleSet, parseRuleFile } from '../../src/rules/load.js';
import type { AlertingRuleDef, RecordingRuleDef } from '../../src/rules/rule-file.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const rel = (p: string): string => relative(process.cwd(), join(here, p));
const BAD = rel('../fixtures/rules-bad');
const GOOD = rel('../fixtures/rules-good');
const SEED = rel('../../rules/talos-kernel.yaml');

/** The two expressions of the design document (kernel-log-shipping.md §4), verbatim. */
const SEED_BTRFS = 'sum(count_over_time({job="talos-kernel"} |= "parent transid verify failed" [5m])) > 0';
const SEED_ISCSI = 'sum(count_over_time({job="talos-kernel"} |~ "(?i)(iscsid|iscsi).*(error|failed|timeout|lost)" [5m])) > 0';

async function errorsOf(file: string, unsupported: 'error' | 'skip' = 'error'): Promise<string[]> {
  const r = await loadRuleFile(join(BAD, file), { unsupported });
  expect(r.groups).toEqual([]);
  return r.errors.map((e) => e.message);
}

describe('the seed rule file', () => {
  it('loads unchanged: two alerting rules with the seed expressions, severities and for', async () => {
    const set = await loadRuleSet([SEED], { unsupported: 'error' });
    expect(set.files).toEqual([SEED]);
    expect(set.skipped).toEqual([]);
    expect(set.groups).toHaveLength(1);
    const [btrfs, iscsi] = set.groups[0]!.rules as AlertingRuleDef[];
    expect({ kind: btrfs!.kind, name: btrfs!.name, exprText: btrfs!.exprText, forMs: btrfs!.forMs, labels: btrfs!.labels }).toEqual({
      kind: 'alert',
      name: 'BTRFSCorruptionDetected',
      exprText: SEED_BTRFS,
      forMs: 0,
      labels: { severity: 'critical' },
    });
    expect({ kind: iscsi!.kind, name: iscsi!.name, exprText: iscsi!.exprText, forMs: iscsi!.forMs, labels: iscsi!.labels }).toEqual({
      kind: 'alert',
      name: 'ISCSIKernelError',
      exprText: SEED_ISCSI,
      forMs: 120_000,
      labels: { severity: 'warning' },
    });
    // The parsed expression is what the engine runs: sum of count_over_time over 5m, compared with 0.
    expect(btrfs!.expr).toMatchObject({ type: 'binary', op: '>', lhs: { type: 'vector_agg', op: 'sum', inner: { type: 'range', fn: 'count_over_time', rangeMs: 300_000 } } });
    expect(btrfs!.annotations.summary).toBeTruthy();
    expect(btrfs!.annotations.description).toContain('{{ $value }}');
    // sum() drops every label, so the annotations must not promise a host.
    for (const r of [btrfs!, iscsi!]) expect(Object.values(r.annotations).join(' ')).not.toContain('$labels');
  });

  it('is plain YAML any Loki ruler reads the same way (same text through another parser)', () => {
    const doc = parseDocument(readFileSync(SEED, 'utf8')).toJS() as { groups: Array<{ rules: Array<{ expr: string }> }> };
    expect(doc.groups[0]!.rules.map((r) => r.expr)).toEqual([SEED_BTRFS, SEED_ISCSI]);
  });
});

describe('a valid file with every field', () => {
  it('produces the typed definitions', async () => {
    const set = await loadRuleSet([join(GOOD, 'full.yaml'), join(GOOD, 'empty.yaml')], { unsupported: 'error' });
    expect(set.files).toEqual([join(GOOD, 'full.yaml'), join(GOOD, 'empty.yaml')]);
    const [storage, recording, numeric] = set.groups;
    expect({ name: storage!.name, intervalMs: storage!.intervalMs, limit: storage!.limit, file: storage!.file }).toEqual({
      name: 'storage',
      intervalMs: 30_000,
      limit: 10,
      file: join(GOOD, 'full.yaml'),
    });
    const disk = storage!.rules[0] as AlertingRuleDef;
    expect(disk).toMatchObject({
      kind: 'alert',
      name: 'DiskErrors',
      forMs: 90_000,
      keepFiringForMs: 600_000,
      labels: { severity: 'warning', team: 'storage' },
      annotations: { summary: '{{ $value }} I/O errors on {{ $labels.host }}', runbook_url: 'https://runbooks.example/disk' },
      group: 'storage',
      index: 0,
      line: 7,
    });
    expect(disk.exprText).toBe('sum by (host) (count_over_time({job="talos-kernel"} |~ "(?i)i/o error" [5m])) > 2\n');
    // A YAML merge key brings the anchored labels, the local key wins.
    expect(storage!.rules[1]).toMatchObject({ name: 'DiskErrorsNoFor', forMs: 0, keepFiringForMs: 0, labels: { severity: 'critical', team: 'storage' }, index: 1, line: 18 });
    expect(recording!.intervalMs).toBe(0);
    expect(recording!.limit).toBe(0);
    const rec = recording!.rules[0] as RecordingRuleDef;
    expect(rec).toMatchObject({ kind: 'record', name: 'talos:kernel_lines:rate5m', labels: { source: 'sidecar' } });
    expect('annotations' in rec).toBe(false);
    expect(recording!.rules[1]!.name).toBe('talos:kernel_lines:zero_for'); // `for: 0s` is allowed in a recording rule
    expect(numeric!.name).toBe('2024'); // a YAML number where a string goes reads as its text, as in Go
  });
});

describe('every validation error names file, position, group and rule', () => {
  const cases: Array<[string, string[]]> = [
    ['yaml-syntax.yaml', ['yaml-syntax.yaml:6:1: YAML: Sequence item without - indicator']],
    ['duplicate-key.yaml', ['duplicate-key.yaml:6:9: YAML: Map keys must be unique']],
    ['two-documents.yaml', ['two-documents.yaml:5:1: more than one YAML document: the Loki ruler would ignore all but the first']],
    ['unknown-top-key.yaml', ['unknown-top-key.yaml:1:1: unknown field "group" (a rule file has only "groups")']],
    ['unknown-group-key.yaml', ['unknown-group-key.yaml:3:5: group "g": unknown field "intervall" in group (known: name, interval, limit, rules)']],
    [
      'unknown-rule-key.yaml',
      ['unknown-rule-key.yaml:6:9: group "g": rule "A": unknown field "annotation" in rule (known: alert, record, expr, for, keep_firing_for, labels, annotations)'],
    ],
    ['group-name-empty.yaml', ['group-name-empty.yaml:2:5: Groupname must not be empty']],
    ['group-name-repeated.yaml', ['group-name-repeated.yaml:4:11: group "g": groupname: "g" is repeated in the same file']],
    ['alert-and-record.yaml', ['alert-and-record.yaml:5:17: group "g": rule "A": only one of \'record\' and \'alert\' must be set']],
    ['no-alert-or-record.yaml', ['no-alert-or-record.yaml:4:9: group "g": rule #1: one of \'record\' or \'alert\' must be set']],
    ['expr-missing.yaml', ['expr-missing.yaml:4:9: group "g": rule "NoExpr": field \'expr\' must be set in rule']],
    [
      'recording-invalid.yaml',
      [
        'recording-invalid.yaml:4:17: group "rec": rule "talos:kernel_lines:rate5m": invalid field \'annotations\' in recording rule',
        'recording-invalid.yaml:4:17: group "rec": rule "talos:kernel_lines:rate5m": invalid field \'for\' in recording rule',
        'recording-invalid.yaml:4:17: group "rec": rule "talos:kernel_lines:rate5m": invalid field \'keep_firing_for\' in recording rule',
        'recording-invalid.yaml:10:17: group "rec": rule "1bad": invalid recording rule name: 1bad',
        'recording-invalid.yaml:12:17: group "rec": rule "talos_lines{job=\\"x\\"}": invalid recording rule name: talos_lines{job="x"}',
        'recording-invalid.yaml:12:17: group "rec": rule "talos_lines{job=\\"x\\"}": braces present in the recording rule name; should it be in expr?: talos_lines{job="x"}',
      ],
    ],
    [
      'label-names.yaml',
      [
        'label-names.yaml:7:11: group "g": rule "Labels": invalid label name: bad-name',
        'label-names.yaml:8:11: group "g": rule "Labels": invalid label name: __name__',
        'label-names.yaml:11:11: group "g": rule "Labels": invalid annotation name: 2bad',
      ],
    ],
    [
      'durations.yaml',
      [
        'durations.yaml:3:15: group "g": interval: not a valid duration string: "1minute"',
        'durations.yaml:7:14: group "g": rule "Durations": for: not a valid duration string: "5"',
        'durations.yaml:8:26: group "g": rule "Durations": keep_firing_for: not a valid duration string: "1h1h"',
      ],
    ],
    [
      'templates.yaml',
      [
        'templates.yaml:7:11: group "g": rule "Templates": label "severity": template: 1:7: missing value for if',
        'templates.yaml:10:11: group "g": rule "Templates": annotation "description": template: 2:13: function "humanise" not defined',
      ],
    ],
    [
      'wrong-types.yaml',
      [
        'wrong-types.yaml:3:12: group "g": limit: expected a whole number, got "ten"',
        'wrong-types.yaml:7:11: group "g": rule "Types": expr: expected a string, got a list',
        'wrong-types.yaml:9:11: group "g": rule "Types": labels: expected a mapping, got a list',
        'wrong-types.yaml:12:7: group "h": rules: expected a list, got a mapping',
      ],
    ],
  ];
  for (const [file, want] of cases) {
    it(file, async () => {
      expect(await errorsOf(file)).toEqual(want.map((m) => `${BAD}/${m}`));
    });
  }

  it('a LogQL syntax error: position of the expression in the file and of the error in the expression', async () => {
    const r = await loadRuleFile(join(BAD, 'expr-syntax.yaml'), { unsupported: 'skip' });
    expect(r.errors).toHaveLength(1);
    const e = r.errors[0]!;
    expect({ file: e.file, group: e.group, rule: e.rule, line: e.line, column: e.column, unsupported: e.unsupported }).toEqual({
      file: join(BAD, 'expr-syntax.yaml'),
      group: 'g',
      rule: 'BadExpr',
      line: 5,
      column: 15,
      unsupported: false,
    });
    // The expression text is `sum(count_over_time(… [5m]) > 0`: it ends (column 58) one ")" short.
    expect(e.message).toMatch(new RegExp(`^${BAD}/expr-syntax\\.yaml:5:15: group "g": rule "BadExpr": could not parse expression: expr 1:58: .*\\)`));
  });

  it('RuleLoadError fields are set, and the message has every known part', () => {
    const e = new RuleLoadError({ file: 'f.yaml', group: 'g', rule: 'r', line: 3, column: 7, reason: 'bad' });
    expect(e.message).toBe('f.yaml:3:7: group "g": rule "r": bad');
    expect(new RuleLoadError({ file: 'f.yaml', reason: 'gone' }).message).toBe('f.yaml: gone');
    expect(new RuleLoadErrors([e]).errors).toEqual([e]);
  });
});

describe('unsupported LogQL and template functions', () => {
  it('error mode: valid-but-unsupported rules fail the load, flagged unsupported', async () => {
    const r = await loadRuleFile(join(BAD, 'expr-unsupported.yaml'), { unsupported: 'error' });
    expect(r.errors.map((e) => [e.rule, e.unsupported])).toEqual([
      ['ParserStage', true],
      ['QueryInTemplate', true],
    ]);
    // Column 59 is where `offset` starts in the expression.
    expect(r.errors[0]!.message).toMatch(new RegExp(`^${BAD}/expr-unsupported\\.yaml:7:15: group "g": rule "ParserStage": unsupported LogQL: expr 1:59: .*offset`));
    expect(r.errors[1]!.message).toBe(
      `${BAD}/expr-unsupported.yaml:11:11: group "g": rule "QueryInTemplate": annotation "summary": template: 1:4: function "query" is not supported: query needs a query engine, which the sidecar does not have`,
    );
    await expect(loadRuleSet([join(BAD, 'expr-unsupported.yaml')], { unsupported: 'error' })).rejects.toBeInstanceOf(RuleLoadErrors);
  });

  it('skip mode: those rules are listed as skipped and the rest loads', async () => {
    const set = await loadRuleSet([join(BAD, 'expr-unsupported.yaml')], { unsupported: 'skip' });
    expect(set.groups.map((g) => g.rules.map((r) => r.name))).toEqual([['Supported']]);
    expect(set.skipped.map((s) => [s.file, s.group, s.rule])).toEqual([
      [join(BAD, 'expr-unsupported.yaml'), 'g', 'ParserStage'],
      [join(BAD, 'expr-unsupported.yaml'), 'g', 'QueryInTemplate'],
    ]);
    expect(set.skipped[0]!.reason).toMatch(/^unsupported LogQL: expr 1:\d+: /);
  });

  it('skip mode still fails on syntax errors', async () => {
    await expect(loadRuleSet([join(BAD, 'expr-syntax.yaml')], { unsupported: 'skip' })).rejects.toBeInstanceOf(RuleLoadErrors);
  });
});

describe('edge cases of the format', () => {
  const load = (text: string) => parseRuleFile('x.yaml', text, { unsupported: 'error' });
  const expr = 'sum(count_over_time({job="talos-kernel"} |= "x" [5m])) > 0';

  it('an empty file, a null document and `groups:` with nothing are empty rule files', () => {
    for (const text of ['', '# only a comment\n', '---\n', 'groups:\n', 'groups: []\n']) {
      expect(load(text), JSON.stringify(text)).toEqual({ file: 'x.yaml', groups: [], skipped: [], errors: [] });
    }
  });

  it('a group without rules is valid; `limit` below 0 means no limit', () => {
    const r = load('groups:\n  - name: g\n    limit: -1\n');
    expect(r.errors).toEqual([]);
    expect(r.groups).toEqual([{ file: 'x.yaml', name: 'g', intervalMs: 0, limit: 0, rules: [] }]);
  });

  it('a byte-order mark and CRLF line ends are accepted', () => {
    const r = load(`\uFEFFgroups:\r\n  - name: g\r\n    rules:\r\n      - alert: A\r\n        expr: ${expr}\r\n`);
    expect(r.errors).toEqual([]);
    expect(r.groups[0]!.rules[0]!.exprText).toBe(expr);
  });

  it('a lone surrogate in a label value is not valid UTF-8', () => {
    const r = load(`groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: ${expr}\n        labels:\n          x: "\\ud800"\n`);
    expect(r.errors.map((e) => e.reason)).toEqual(['invalid label value: \ud800']);
  });

  it('a non-string key or a nested value where a string goes is reported, not crashed on', () => {
    const r = load(`groups:\n  - name: {a: 1}\n    rules:\n      - alert: A\n        expr: ${expr}\n        annotations:\n          summary: {x: 1}\n`);
    expect(r.errors.map((e) => e.message)).toEqual([
      'x.yaml:2:11: name: expected a string, got a mapping',
      'x.yaml:7:20: rule "A": annotations "summary": expected a string, got a mapping',
    ]);
  });
});
