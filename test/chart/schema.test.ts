/**
 * values.schema.json: Helm rejects wrong values before rendering anything, the
 * schema and values.yaml describe the same keys, its duration and byte-size
 * patterns accept exactly what the sidecar parses, and README.md documents
 * every value.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../../src/config/duration.js';
import { parseBytes } from '../../src/config/schema.js';
import { CHART_DIR, tryTemplate } from '../helpers/helm.js';

interface SchemaNode {
  type?: string | string[];
  minLength?: number;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  pattern?: string;
  oneOf?: SchemaNode[];
}

const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as SchemaNode;
const values = parseYaml(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<string, unknown>;
const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');

/** Dotted paths of every schema node that has no `properties` of its own (a value users set as a whole). */
function leafPaths(node: SchemaNode, prefix = ''): string[] {
  if (!node.properties) return [prefix];
  return Object.entries(node.properties).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

function at(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

/** Whether the string branch of a schema node accepts `s` (pattern and minLength). */
function stringAccepts(node: SchemaNode, s: string): boolean {
  const str = node.pattern !== undefined ? node : node.oneOf?.find((n) => n.pattern !== undefined);
  expect(str?.pattern, 'schema pattern').toBeDefined();
  return new RegExp(str!.pattern!, 'u').test(s) && s.length >= (str!.minLength ?? 0);
}

describe('values.schema.json rejects wrong values', () => {
  const cases: { name: string; setJson: string; key: string }[] = [
    { name: 'a port given as a string', setJson: 'ingest.port="6000"', key: 'ingest.port' },
    { name: 'a boolean given as a string', setJson: 'ingest.udp="yes"', key: 'ingest.udp' },
    { name: 'two replicas on one node port', setJson: 'cluster.service.nodePorts=[30600,30600]', key: 'cluster.service.nodePorts' },
    { name: 'an unknown mode', setJson: 'mode="daemonset"', key: 'mode' },
    { name: 'a node port out of range', setJson: 'cluster.service.nodePorts=[30600,70000]', key: 'cluster.service.nodePorts' },
    { name: 'a Service type that cannot carry externalTrafficPolicy', setJson: 'cluster.service.type="ClusterIP"', key: 'cluster.service.type' },
    { name: 'an unknown persistence type', setJson: 'persistence.type="pv"', key: 'persistence.type' },
    { name: 'an alert label name Prometheus would refuse', setJson: 'node.alertLabel="node-name"', key: 'node.alertLabel' },
    { name: 'a spool ratio above 1', setJson: 'prometheusRule.spoolFullRatio=1.5', key: 'prometheusRule.spoolFullRatio' },
    { name: 'a misspelt Secret setting', setJson: 'loki.tls.caKeys="ca.crt"', key: 'caKeys' },
    { name: 'a single URL instead of a list', setJson: 'alertmanager.urls="http://am:9093"', key: 'alertmanager.urls' },
    { name: 'a URL that is not http(s)', setJson: 'loki.url="loki:3100"', key: 'loki.url' },
    { name: 'a Kubernetes quantity where the sidecar wants bytes', setJson: 'loki.spool.maxSize="768Mi"', key: 'loki.spool.maxSize' },
    { name: 'a bad duration', setJson: 'state.interval="30 seconds"', key: 'state.interval' },
    { name: 'a rule file given as a mapping, not text', setJson: 'rules.files={"x.yaml":{"groups":[]}}', key: 'rules.files' },
    { name: 'a log level the sidecar lacks', setJson: 'log.level="verbose"', key: 'log.level' },
    { name: 'a misspelt key', setJson: 'ingest.prot=6000', key: 'prot' },
    { name: 'a label value that is not a string', setJson: 'talos.staticLabels={"cluster":1}', key: 'talos.staticLabels' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = tryTemplate({ setJson: [c.setJson] });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain("values don't meet the specifications of the schema");
      expect(r.stderr).toContain(c.key);
    });
  }

  it('accepts the same keys with right types', () => {
    const r = tryTemplate({
      setJson: ['ingest.port=6001', 'ingest.udp=false', 'loki.spool.maxSize="512MiB"', 'state.interval="1m30s"', 'mode="cluster"', 'cluster.service.nodePorts=[31000,31001]'],
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('containerPort: 6001');
    expect(r.stdout).toContain('nodePort: 31001');
  });
});

describe('schema and values.yaml agree', () => {
  const leaves = leafPaths(schema).filter((p) => p !== 'global');

  it('every schema value has a default in values.yaml', () => {
    for (const p of leaves) expect(at(values, p), p).not.toBeUndefined();
  });

  it('every values.yaml key is in the schema (objects are closed)', () => {
    const walk = (v: unknown, s: SchemaNode, path: string): void => {
      if (!s.properties || v === null || typeof v !== 'object' || Array.isArray(v)) return;
      expect(s.additionalProperties, `${path || '(top)'} closed`).toBe(false);
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        const cs = s.properties[k];
        expect(cs, `${path ? `${path}.` : ''}${k} in schema`).toBeDefined();
        walk(child, cs!, path ? `${path}.${k}` : k);
      }
    };
    walk(values, schema, '');
  });

  it('README.md documents every value', () => {
    for (const p of leaves) expect(readme, p).toContain(`\`${p}\``);
  });
});

describe("schema patterns accept exactly what the sidecar's config parser accepts", () => {
  const accepts = (fn: () => unknown): boolean => {
    try {
      fn();
      return true;
    } catch {
      return false;
    }
  };

  it('durations', () => {
    const node = schema.properties!.state!.properties!.interval!;
    for (const s of ['0', '30s', '5m', '1h30m', '500ms', '1w2d', '1y', '0s', '', '30', '1.5s', '5m1h', 'ms', '30 s', '-1s', '1m1m']) {
      expect(stringAccepts(node, s), JSON.stringify(s)).toBe(accepts(() => parseDuration(s)));
    }
  });

  it('byte sizes', () => {
    const node = schema.properties!.loki!.properties!.spool!.properties!.maxSize!;
    for (const s of ['1024', '512KiB', '768MiB', '1GiB', '1.5GiB', '10MB', '1kb', '7b', '1Gi', '1M', 'MiB', '', '-1MiB', '1 TiB', '1TiB', '1 MiB', ' 2GiB ', '1 1MiB']) {
      expect(stringAccepts(node, s), JSON.stringify(s)).toBe(accepts(() => parseBytes(s)));
    }
  });
});
