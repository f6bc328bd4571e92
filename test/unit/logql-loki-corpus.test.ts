/**
 * `check` accepts the LogQL metric expressions Loki 3 accepts: every valid
 * metric query among the inputs of Loki's parser tests
 * (pkg/logql/syntax/parser_test.go, read as facts: these strings parse in
 * Loki) must parse here and be evaluable, except the short list named in
 * docs/logql-support.md ("Vector algebra" and the pipeline sections).
 */
import { describe, expect, it } from 'vitest';
import { LogQLError } from '../../src/logql/ast.js';
import { parseExpr } from '../../src/logql/parse.js';
import { checkEvaluable } from '../../src/rules/rule-legs.js';

const LOKI_VALID: string[] = [
  "count_over_time({foo=\"bar\"}[12h] |= \"error\")",
  "count_over_time({foo=\"bar\"} |= \"error\" [12h])",
  "count_over_time({ foo = \"bar\" }[12m])",
  "bytes_over_time({ foo = \"bar\" }[12m])",
  "bytes_rate({ foo = \"bar\" }[12m])",
  "rate({ foo = \"bar\" }[5h])",
  "rate({ foo = \"bar\" }[5d])",
  "count_over_time({ foo = \"bar\" }[1w])",
  "absent_over_time({ foo = \"bar\" }[1w])",
  "sum(rate({ foo = \"bar\" }[5h]))",
  "sum(rate({ foo =\"bar\" }[1y]))",
  "avg(count_over_time({ foo = \"bar\" }[5h])) by (bar,foo)",
  "avg(\n\t\t\t\t\tlabel_replace(\n\t\t\t\t\t\tcount_over_time({ foo = \"bar\" }[5h]),\n\t\t\t\t\t\t\"bar\",\n\t\t\t\t\t\t\"$1$2\",\n\t\t\t\t\t\t\"foo\",\n\t\t\t\t\t\t\"(.*).(.*)\"\n\t\t\t\t\t)\n\t\t\t\t) by (bar,foo)",
  "avg(count_over_time({ foo = \"bar\" }[5h])) by ()",
  "max without (bar) (count_over_time({ foo = \"bar\" }[5h]))",
  "max without () (count_over_time({ foo = \"bar\" }[5h]))",
  "topk(10,count_over_time({ foo = \"bar\" }[5h])) without (bar)",
  "bottomk(30 ,sum(rate({ foo = \"bar\" }[5h])) by (foo))",
  "max( sum(count_over_time({ foo = \"bar\" }[5h])) without (foo,bar) ) by (foo)",
  "count_over_time(({foo=\"bar\"} |= \"baz\" |~ \"blip\" != \"flip\" !~ \"flap\")[5m])",
  "bytes_over_time(({foo=\"bar\"} |= \"baz\" |~ \"blip\" != \"flip\" !~ \"flap\")[5m])",
  "bytes_over_time(({foo=\"bar\"} |= \"baz\" |~ \"blip\" != \"flip\" !~ \"flap\" | unpack)[5m])",
  "label_replace(\n\t\t\t\tbytes_over_time(({foo=\"bar\"} |= \"baz\" |~ \"blip\" != \"flip\" !~ \"flap\")[5m]),\n\t\t\t\t\"buzz\",\n\t\t\t\t\"$2\",\n\t\t\t\t\"bar\",\n\t\t\t\t\"(.*):(.*)\"\n\t\t\t)",
  "sum(count_over_time(({foo=\"bar\"} |= \"baz\" |~ \"blip\" != \"flip\" !~ \"flap\")[5m])) by (foo)",
  "sum(bytes_rate(({foo=\"bar\"} |= \"baz\" |~ \"blip\" != \"flip\" !~ \"flap\")[5m])) by (foo)",
  "topk(5,count_over_time(({foo=\"bar\"} |= \"baz\" |~ \"blip\" != \"flip\" !~ \"flap\")[5m])) without (foo)",
  "topk(5,sum(rate(({foo=\"bar\"} |= \"baz\" |~ \"blip\" != \"flip\" !~ \"flap\")[5m])) by (app))",
  "count_over_time({foo=\"bar\"}[5m] |= \"baz\" |~ \"blip\" != \"flip\" !~ \"flap\")",
  "sum(count_over_time({foo=\"bar\"}[5m] |= \"baz\" |~ \"blip\" != \"flip\" !~ \"flap\")) by (foo)",
  "topk(5,count_over_time({foo=\"bar\"}[5m] |= \"baz\" |~ \"blip\" != \"flip\" !~ \"flap\")) without (foo)",
  "topk(5,sum(rate({foo=\"bar\"}[5m] |= \"baz\" |~ \"blip\" != \"flip\" !~ \"flap\")) by (app))",
  "sum(count_over_time({foo=\"bar\"}[5m])) by (foo) /\n\t\t\tsum(count_over_time({foo=\"bar\"}[5m])) by (foo) /\n\t\t\tsum(count_over_time({foo=\"bar\"}[5m])) by (foo)",
  "sum(count_over_time({foo=\"bar\"}[5m])) by (foo) ^\n\t\t\t\t\tsum(count_over_time({foo=\"bar\"}[5m])) by (foo) /\n\t\t\t\t\tsum(count_over_time({foo=\"bar\"}[5m])) by (foo)",
  "sum(count_over_time({foo=\"bar\"}[5m])) by (foo) +\n\t\t\t\t\tsum(count_over_time({foo=\"bar\"}[5m])) by (foo) /\n\t\t\t\t\tsum(count_over_time({foo=\"bar\"}[5m])) by (foo)",
  "sum by (job) (\n\t\t\t\t\t\t\tcount_over_time({namespace=\"tns\"} |= \"level=error\"[5m])\n\t\t\t\t\t\t/\n\t\t\t\t\t\t\tcount_over_time({namespace=\"tns\"}[5m])\n\t\t\t\t\t\t)",
  "sum by (job) (\n\t\t\t\t\t\t\tcount_over_time({namespace=\"tns\"} |= \"level=error\"[5m])\n\t\t\t\t\t\t/\n\t\t\t\t\t\t\tcount_over_time({namespace=\"tns\"}[5m])\n\t\t\t\t\t\t) * 100",
  "sum(count_over_time({foo=\"bar\"}[5m])) by (foo) + 1 / 2",
  "1 + -2 / 1",
  "1 + 1 - -1",
  "count_over_time({app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\"[5m])",
  "stdvar_over_time({app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m])",
  "stdvar_over_time({app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap duration(foo) [5m])",
  "sum_over_time({namespace=\"tns\"} |= \"level=error\" | json |foo>=5,bar<25ms| unwrap bytes(foo) [5m])",
  "sum_over_time({namespace=\"tns\"} |= \"level=error\" | json |foo>=5,bar<25ms| unwrap bytes(foo) [5m] offset 5m)",
  "sum_over_time({namespace=\"tns\"} |= \"level=error\" | json |foo>=5,bar<25ms| unwrap latency [5m])",
  "sum_over_time({namespace=\"tns\"} |= \"level=error\" | json |foo==5,bar<25ms| unwrap latency [5m])",
  "stddev_over_time({app=\"foo\"} |= \"bar\" | unwrap bar [5m])",
  "min_over_time({app=\"foo\"} | unwrap bar [5m])",
  "min_over_time({app=\"foo\"} | unwrap bar [5m]) by ()",
  "max_over_time({app=\"foo\"} | unwrap bar [5m]) without ()",
  "max_over_time({app=\"foo\"} | unwrap bar [5m]) without (foo,bar)",
  "max_over_time({app=\"foo\"} | unwrap bar [5m] offset 5m) without (foo,bar)",
  "max_over_time({app=\"foo\"} | unwrap bar [5m] offset -5m) without (foo,bar)",
  "max_over_time(({app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo )[5m])",
  "quantile_over_time(0.99998,{app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m])",
  "quantile_over_time(0.99998,{app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m]) by (namespace,instance)",
  "quantile_over_time(0.99998,{app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo | __error__ !~\".+\"[5m]) by (namespace,instance)",
  "sum without (foo) (\n\t\t\t\tquantile_over_time(0.99998,{app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m]\n\t\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t\t)",
  "sum without (foo) (\n\t\t\t\tquantile_over_time(0.99998,{app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m] offset 5m\n\t\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t\t)",
  "sum without (foo) (\n\t\t\tquantile_over_time(0.99998,{app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap duration(foo) [5m]\n\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t)",
  "sum without (foo) (\n\t\t\tquantile_over_time(.99998,{app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap duration(foo) [5m]\n\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t)",
  "sum without (foo) (\n\t\t\tquantile_over_time(.99998,{app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap duration_seconds(foo) [5m]\n\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t)",
  "topk(10,\n\t\t\t\tquantile_over_time(0.99998,{app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m]\n\t\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t\t)",
  "sum by (foo,bar) (\n\t\t\t\tquantile_over_time(0.99998,{app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m]\n\t\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t\t)\n\t\t\t\t\t+\n\t\t\t\t\tavg(\n\t\t\t\t\t\tavg_over_time({app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m]\n\t\t\t\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t\t\t\t) by (foo,bar)",
  "sum by (foo,bar) (\n\t\t\t\tquantile_over_time(0.99998,{app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m]\n\t\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t\t)\n\t\t\t\t\t+ ignoring (bar)\n\t\t\t\t\tavg(\n\t\t\t\t\t\tavg_over_time({app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m]\n\t\t\t\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t\t\t\t) by (foo)",
  "sum by (foo,bar) (\n\t\t\t\tquantile_over_time(0.99998,{app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m]\n\t\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t\t)\n\t\t\t\t\t+ on (foo)\n\t\t\t\t\tavg(\n\t\t\t\t\t\tavg_over_time({app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m]\n\t\t\t\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t\t\t\t) by (foo)",
  "sum by (foo,bar) (\n\t\t\t\tquantile_over_time(0.99998,{app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m]\n\t\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t\t)\n\t\t\t\t\t+ ignoring (bar) group_left (foo)\n\t\t\t\t\tavg(\n\t\t\t\t\t\tavg_over_time({app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m]\n\t\t\t\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t\t\t\t) by (foo)",
  "sum by (app,machine) (count_over_time({app=\"foo\"}[1m])) > bool on () group_right (app) sum by (app) (count_over_time({app=\"foo\"}[1m]))",
  "sum by (app,machine) (count_over_time({app=\"foo\"}[1m])) > bool on () group_right sum by (app) (count_over_time({app=\"foo\"}[1m]))",
  "label_replace(\n\t\t\t\tsum by (foo,bar) (\n\t\t\t\t\tquantile_over_time(0.99998,{app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m]\n\t\t\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t\t\t)\n\t\t\t\t\t\t+\n\t\t\t\t\t\tavg(\n\t\t\t\t\t\t\tavg_over_time({app=\"foo\"} |= \"bar\" | json | latency >= 250ms or ( status_code < 500 and status_code > 200)\n\t\t\t\t\t\t\t\t| line_format \"blip{{ .foo }}blop {{.status_code}}\" | label_format foo=bar,status_code=\"buzz{{.bar}}\" | unwrap foo [5m]\n\t\t\t\t\t\t\t\t\t\t\t) by (namespace,instance)\n\t\t\t\t\t\t\t\t) by (foo,bar),\n\t\t\t\t\"foo\",\n\t\t\t\t\"$1\",\n\t\t\t\t\"svc\",\n\t\t\t\t\"(.*)\"\n\t\t\t\t)",
  "1 + 1 + 1",
  "1 == 1",
  "1 != 1",
  "1 > 1",
  "1 >= 1",
  "1 < 1",
  "1 <= 1",
  "1 >= 1 > 1",
  "count_over_time({ foo =\"bar\" }[12m]) > count_over_time({ foo = \"bar\" }[12m])",
  "count_over_time({ foo = \"bar\" }[12m]) > 1",
  "count_over_time({ foo = \"bar\" }[12m]) or count_over_time({ foo = \"bar\" }[12m]) > 1",
  "1 > 1 < 1",
  "1 > 1 > bool 1",
  "vector(1)",
  "label_replace(vector(0), \"foo\", \"bar\", \"\", \"\")",
  "sum(vector(0))",
  "count_over_time({ foo =\"bar\" } | json layer7_something_specific=\"layer7_something_specific\" [12m])",
  "sum(count_over_time({foo=\"bar\"}[5m])) or vector(1)",
  "count_over_time({foo=\"bar\"}[5m])",
  "count_over_time({app=\"baz\", foo!=\"bar\"}[5m])",
  "count_over_time({app=~\".+\"}[5m])",
  "count_over_time({app=~\"bar|baz\"}[5m])",
  "1 + count_over_time({app=~\".+\"}[5m]) + count_over_time({app=~\".+\"}[5m])",
  "1 + count_over_time({app=~\".+\"}[5m]) + count_over_time({app=~\".+\"}[5m]) + 1",
];

/** Valid in Loki, refused here on purpose (docs/logql-support.md), with the reason the error names. */
const KNOWN_UNSUPPORTED: Record<string, string> = {
  'max_over_time({app="foo"} | unwrap bar [5m] offset -5m) without (foo,bar)': 'a negative offset',
};

/** Pipeline stages still being built under issue #13 (docs/logql-support.md, pipeline section). */
const PIPELINE_PENDING = /"\| [a-z_]+" is not supported/;

describe("Loki's parser-test metric expressions", () => {
  it.each(LOKI_VALID)('%s', (q) => {
    let reason = KNOWN_UNSUPPORTED[q];
    try {
      parseExpr(q);
    } catch (e) {
      if (e instanceof LogQLError && e.unsupported && PIPELINE_PENDING.test(e.message)) reason ??= PIPELINE_PENDING.exec(e.message)![0];
    }
    try {
      checkEvaluable(parseExpr(q));
      expect(reason).toBeUndefined();
    } catch (e) {
      if (!(e instanceof LogQLError) || reason === undefined) throw e;
      expect(e.unsupported).toBe(true);
      expect(e.message).toContain(reason);
    }
  });
});
