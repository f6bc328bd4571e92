/**
 * Grammar conformance of the LogQL parser:
 * 1. Loki's own parser cases (pkg/logql/syntax/parser_test.go, metric
 *    queries, in test/fixtures/logql/loki-parser-cases.json): every query
 *    Loki accepts is accepted here or refused as `unsupported` for a reason
 *    docs/logql-support.md lists; every query Loki rejects is rejected.
 * 2. Generated pipelines (fast-check) checked against Grafana's lezer
 *    grammar (@grafana/lezer-logql): what lezer parses cleanly, we accept
 *    and vice versa.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parser } from '@grafana/lezer-logql';
import { LogQLError } from '../../src/logql/ast.js';
import { parseExpr } from '../../src/logql/parse.js';
import { checkEvaluable } from '../../src/rules/rule-legs.js';

const cases = JSON.parse(readFileSync(new URL('../fixtures/logql/loki-parser-cases.json', import.meta.url), 'utf8')) as { valid: string[]; invalid: string[] };

/** Constructs docs/logql-support.md lists as not supported ("Vector algebra": refused and why). */
const DOCUMENTED_UNSUPPORTED = /a negative offset|vector aggregation "approx_topk"|no common evaluation grid|only meet every/;

function outcome(q: string): 'ok' | { unsupported: boolean; message: string } {
  try {
    // Parsed and evaluable: every range on an exact grid (what `check` runs).
    checkEvaluable(parseExpr(q));
    return 'ok';
  } catch (e) {
    if (e instanceof LogQLError) return { unsupported: e.unsupported, message: e.message };
    throw e;
  }
}

function lezerClean(q: string): boolean {
  let clean = true;
  parser.parse(q).iterate({
    enter: (n) => {
      if (n.type.isError) clean = false;
      return clean;
    },
  });
  return clean;
}

describe("Loki's parser test cases", () => {
  it.each(cases.valid)('accepts (or documents as unsupported): %s', (q) => {
    const r = outcome(q);
    if (r !== 'ok') {
      expect(r.unsupported, r.message).toBe(true);
      expect(r.message).toMatch(DOCUMENTED_UNSUPPORTED);
    }
  });
  it.each(cases.invalid)('rejects: %s', (q) => {
    expect(outcome(q)).not.toBe('ok');
  });
  it('pipeline and range-aggregation errors are errors, not "unsupported"', () => {
    for (const q of cases.invalid.filter((x) => /unwrap|\| *json|logfmt|ip\(/.test(x))) {
      const r = outcome(q);
      expect(r, q).not.toBe('ok');
      expect((r as { unsupported: boolean }).unsupported, q).toBe(false);
    }
  });
});

const STAGES = [
  '| json', '| logfmt', '| logfmt --strict', '| logfmt --keep-empty --strict', '| json a="b.c", d="e[0]"', '| logfmt x="y"',
  '| pattern "<a> <_> <b>"', '| regexp "(?P<x>\\\\w+)"', '| unpack', '| decolorize',
  '| line_format "{{.a}} {{ __line__ }}"', '| label_format a=b', '| label_format c="{{ .a | upper }}", d=e',
  '| drop a, b="c"', '| keep a, b=~"x.*"', '| a="b"', '| a!="b" or c=~"d"', '| a > 5', '| a >= -1.5 and b < 10',
  '| latency > 250ms', '| size <= 20MB', '| size == 1KiB', '| a = ip("10.0.0.0/8")', '| (a="1" or b="2"), c!="3"',
  '| __error__=""', '| __error__!="JSONParserErr"', '|= "x"', '!= "y"', '|~ "z+"', '!~ "w"', '|= ip("192.168.0.1")', '|= "a" or "b"',
];
// Not generated: juxtaposed filters (`| a="1" b="2"`), which Loki accepts (parser_test.go) but the lezer grammar does not;
// logql-parse.test.ts checks their precedence against Loki's expected trees.
const UNWRAPS = ['', '| unwrap v', '| unwrap duration(v)', '| unwrap bytes(v) | __error__=""', '| unwrap duration_seconds(v) | v > 1'];
const FNS = ['count_over_time', 'rate', 'bytes_over_time', 'sum_over_time', 'avg_over_time', 'max_over_time', 'quantile_over_time', 'rate_counter', 'first_over_time', 'stddev_over_time'];

function query(fn: string, stages: string[], unwrap: string, wrap: boolean): string {
  const needs = !['count_over_time', 'rate', 'bytes_over_time'].includes(fn);
  const u = needs && unwrap === '' ? '| unwrap v' : fn === 'count_over_time' || fn === 'bytes_over_time' ? '' : unwrap;
  const param = fn === 'quantile_over_time' ? '0.9, ' : '';
  const inner = `${fn}(${param}{job="talos"} ${stages.join(' ')} ${u} [5m])`;
  return wrap ? `sum by (a) (${inner}) > 1` : inner;
}

describe('generated pipelines agree with the lezer grammar', () => {
  it('every generated query that lezer parses is accepted, and the other way round', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...FNS),
        fc.array(fc.constantFrom(...STAGES), { maxLength: 5 }),
        fc.constantFrom(...UNWRAPS),
        fc.boolean(),
        (fn, stages, unwrap, wrap) => {
          const q = query(fn, stages, unwrap, wrap);
          const ours = outcome(q);
          const lez = lezerClean(q);
          if (lez) expect(ours, q).toBe('ok');
          if (ours === 'ok') expect(lez, q).toBe(true);
        },
      ),
      { numRuns: 400, seed: 13 },
    );
  });
});
