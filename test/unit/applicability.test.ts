/** Which rules can match a stream this sidecar produces (src/rules/applicability.ts). */
import { describe, expect, it } from 'vitest';
import type { Expr } from '../../src/logql/ast.js';
import { parseExpr } from '../../src/logql/parse.js';
import { ruleApplicability, selectorTexts, talosLabelUniverse, type Applicability } from '../../src/rules/applicability.js';

const DEFAULT = talosLabelUniverse({ job: 'talos-kernel', labelFields: [], staticLabels: {} });
const CONFIGURED = talosLabelUniverse({ job: 'talos-kernel', labelFields: ['facility', 'node-name', 'zone'], staticLabels: { cluster: 'homelab', zone: 'a' }, hostField: 'node-name' });

const sel = (s: string): Expr => parseExpr(`count_over_time(${s} [5m])`);
const verdict = (s: string, u = DEFAULT): Applicability => ruleApplicability(sel(s), u);
const applies = (s: string, u = DEFAULT): boolean => verdict(s, u).applicable;
const blocker = (s: string, u = DEFAULT): string | undefined => {
  const v = verdict(s, u);
  return v.applicable ? undefined : v.label;
};

describe('labels the sidecar never sets are absent, and an absent label equals ""', () => {
  it('= on a missing label cannot match unless the value is ""', () => {
    expect(blocker('{namespace="monitoring", app="loki"}')).toBe('namespace');
    expect(blocker('{job="talos-kernel", kubernetes_pod_name="api-0"}')).toBe('kubernetes_pod_name');
    expect(applies('{job="talos-kernel", app=""}')).toBe(true);
  });

  it('!= on a missing label matches unless the value is ""', () => {
    expect(applies('{job="talos-kernel", app!="loki"}')).toBe(true);
    expect(blocker('{job="talos-kernel", app!=""}')).toBe('app');
  });

  it('=~ needs the regex to match "" (fully anchored); !~ needs it not to', () => {
    expect(blocker('{app=~".+"}')).toBe('app');
    expect(blocker('{kubernetes_pod_name=~"api-.*"}')).toBe('kubernetes_pod_name');
    expect(applies('{job="talos-kernel", app=~"loki|"}')).toBe(true);
    expect(applies('{job="talos-kernel", app=~".*"}')).toBe(true);
    expect(applies('{job="talos-kernel", app!~".+"}')).toBe(true);
    expect(blocker('{job="talos-kernel", app!~".*"}')).toBe('app');
    // Anchored: "x?" matches "", "a|b" does not.
    expect(applies('{job="talos-kernel", app=~"x?"}')).toBe(true);
    expect(blocker('{job="talos-kernel", app=~"a|b"}')).toBe('app');
  });

  it('the reason names the selector, the label and what the sidecar sets instead', () => {
    const v = verdict('{namespace="monitoring", app="loki"}');
    expect(v.applicable).toBe(false);
    if (v.applicable) return;
    expect(v.reason).toBe(
      '{namespace="monitoring", app="loki"} never matches here: the label namespace is never set (labels here: host, job, level, talos_service), so namespace="monitoring" cannot hold',
    );
  });
});

describe('labels with a fixed value (job, static labels) must satisfy the matcher', () => {
  it('job is the configured value', () => {
    expect(applies('{job="talos-kernel"}')).toBe(true);
    expect(blocker('{job="varlogs"}')).toBe('job');
    expect(applies('{job=~"talos-.*"}')).toBe(true);
    expect(blocker('{job=~"loki.*"}')).toBe('job');
    expect(applies('{job!="varlogs", host="n1"}')).toBe(true);
    expect(blocker('{job!="talos-kernel", host="n1"}')).toBe('job');
    expect(blocker('{job!~"talos.*", host="n1"}')).toBe('job');
    const v = verdict('{job="varlogs"}');
    expect(!v.applicable && v.reason).toBe('{job="varlogs"} never matches here: job is always "talos-kernel", so job="varlogs" cannot hold');
  });

  it('every matcher on one label must hold for the same value', () => {
    expect(blocker('{job=~"talos-.*", job!="talos-kernel"}')).toBe('job');
    expect(applies('{job=~"talos-.*", job!="talos-service"}')).toBe(true);
  });

  it('static labels are fixed; a label field of the same name makes the label open', () => {
    expect(applies('{job="talos-kernel", cluster="homelab"}', CONFIGURED)).toBe(true);
    expect(blocker('{job="talos-kernel", cluster="prod"}', CONFIGURED)).toBe('cluster');
    expect(blocker('{job="talos-kernel", cluster=""}', CONFIGURED)).toBe('cluster');
    // zone: static "a", or the record's zone field when present.
    expect(applies('{job="talos-kernel", zone="b"}', CONFIGURED)).toBe(true);
    expect(blocker('{job="talos-kernel", cluster="homelab"}')).toBe('cluster');
  });
});

describe('labels with open values are never ruled out', () => {
  it('host, talos_service, level and label fields', () => {
    expect(applies('{job="talos-kernel", host="talos-cp-1"}')).toBe(true);
    expect(applies('{talos_service="kubelet", level=~"warn|error"}')).toBe(true);
    expect(applies('{job="talos-kernel", level=""}')).toBe(true);
    expect(applies('{job="talos-kernel", facility="kern"}', CONFIGURED)).toBe(true);
    expect(blocker('{job="talos-kernel", facility="kern"}')).toBe('facility');
  });

  it('the host field names the host; it is not a label of its own', () => {
    expect(blocker('{job="talos-kernel", node_name="cp-1"}', CONFIGURED)).toBe('node_name');
  });
});

describe('whole expressions', () => {
  it('a selector inside aggregations and comparisons decides', () => {
    expect(ruleApplicability(parseExpr('sum by (namespace) (rate({namespace="monitoring"} |= "error" [1m])) > 0.05'), DEFAULT)).toMatchObject({ applicable: false, label: 'namespace' });
    expect(ruleApplicability(parseExpr('sum(count_over_time({job="talos-kernel"} |= "x" [5m])) > 0'), DEFAULT)).toEqual({ applicable: true });
  });

  it('absent_over_time of a selector that cannot match is not applicable (it would fire forever)', () => {
    expect(ruleApplicability(parseExpr('absent_over_time({namespace="ingress-nginx"}[15m])'), DEFAULT)).toMatchObject({ applicable: false, label: 'namespace' });
    expect(ruleApplicability(parseExpr('absent_over_time({job="talos-kernel"}[15m])'), DEFAULT)).toEqual({ applicable: true });
  });

  it('`or` needs one side, `unless` its left side, other binary operations both sides', () => {
    const talos = sel('{job="talos-kernel"}');
    const app = sel('{app="x"}');
    const bin = (op: string, lhs: Expr, rhs: Expr): Expr => ({ type: 'binary', op, bool: false, lhs, rhs, pos: talos.pos }) as unknown as Expr;
    expect(ruleApplicability(bin('or', app, talos), DEFAULT).applicable).toBe(true);
    expect(ruleApplicability(bin('or', talos, app), DEFAULT).applicable).toBe(true);
    expect(ruleApplicability(bin('or', app, app), DEFAULT)).toMatchObject({ applicable: false, label: 'app' });
    expect(ruleApplicability(bin('unless', talos, app), DEFAULT).applicable).toBe(true);
    expect(ruleApplicability(bin('unless', app, talos), DEFAULT).applicable).toBe(false);
    expect(ruleApplicability(bin('and', talos, app), DEFAULT).applicable).toBe(false);
    expect(ruleApplicability(bin('/', app, talos), DEFAULT).applicable).toBe(false);
  });
});

describe('selectorTexts (for expressions the parser rejects)', () => {
  it('finds selectors outside string literals', () => {
    expect(selectorTexts('sum(count_over_time({app="x", re=~"a{2}"} | json | line_format "{{.msg}}" [5m])) / sum(rate({b=`}`}[1m]))')).toEqual([
      '{app="x", re=~"a{2}"}',
      '{b=`}`}',
    ]);
    expect(selectorTexts('count_over_time({a="q\\"}"} [1m])')).toEqual(['{a="q\\"}"}']);
    expect(selectorTexts('vector(1)')).toEqual([]);
  });
});
