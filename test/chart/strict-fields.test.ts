/**
 * test/helpers/strict-fields.ts: the kubernetes-models validators alone accept
 * misspelt keys; the strict wrapper rejects them at any depth, while maps
 * (labels, annotations, resource quantities, ConfigMap data) still take any key.
 */
import { describe, expect, it } from 'vitest';
import { DaemonSet, StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { findOne, helmTemplate, validateManifest, CLUSTER_VALUES, FULL_VALUES, type K8sObject } from '../helpers/helm.js';
import { unknownFields, validateStrict } from '../helpers/strict-fields.js';

const clone = <T>(o: T): T => structuredClone(o);

function daemonSet(): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'x', labels: { 'any/label': 'v' }, annotations: { 'any.annotation/x': 'y' } },
    spec: {
      selector: { matchLabels: { a: 'b' } },
      template: {
        metadata: { labels: { a: 'b' } },
        spec: {
          hostNetwork: true,
          containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 1, protocol: 'TCP' }], resources: { limits: { memory: '1Gi', 'example.com/gpu': '1' } } }],
        },
      },
    },
  };
}

describe('strict field validation', () => {
  it('the plain model validator accepts a misspelt key (why the wrapper exists)', () => {
    const ds = daemonSet() as { spec: { template: { spec: Record<string, unknown> } } };
    ds.spec.template.spec.hostNetwrk = true;
    expect(() => new DaemonSet(ds as never).validate()).not.toThrow();
    expect(() => validateStrict(DaemonSet, ds)).toThrow('unknown field(s): spec.template.spec.hostNetwrk');
  });

  it('accepts a valid object with arbitrary map keys', () => {
    expect(unknownFields(DaemonSet, daemonSet())).toEqual([]);
    expect(unknownFields(ConfigMap, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { 'any-key.yaml': 'x' } })).toEqual([]);
  });

  it('finds misspellings at every depth, several at once', () => {
    const ds = clone(daemonSet()) as {
      metdata?: unknown;
      spec: { template: { spec: { containers: { ports: Record<string, unknown>[]; resources: Record<string, unknown> }[] } } };
    };
    ds.metdata = {};
    ds.spec.template.spec.containers[0]!.ports[0]!.protocl = 'TCP';
    ds.spec.template.spec.containers[0]!.resources.limit = { cpu: '1' };
    expect(unknownFields(DaemonSet, ds).sort()).toEqual([
      'metdata',
      'spec.template.spec.containers[0].ports[0].protocl',
      'spec.template.spec.containers[0].resources.limit',
    ]);
  });

  it('covers the other kinds the chart renders', () => {
    const sts = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'x' }, spec: { selector: {}, template: {}, volumeClaimTemplates: [{ metadata: { name: 'd' }, spec: { acessModes: ['ReadWriteOnce'] } }] } };
    expect(unknownFields(StatefulSet, sts)).toEqual(['spec.volumeClaimTemplates[0].spec.acessModes']);
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { externalTraficPolicy: 'Local', ports: [{ port: 1 }] } };
    expect(unknownFields(Service, svc)).toEqual(['spec.externalTraficPolicy']);
    const sm = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'x' }, spec: { selector: {}, endpoints: [{ port: 'http', relabelngs: [] }] } };
    expect(unknownFields(ServiceMonitor, sm)).toEqual(['spec.endpoints[0].relabelngs']);
    const pr = { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'x' }, spec: { groups: [{ name: 'g', rules: [{ alert: 'A', expr: 'up', for: '5m', label: { a: 'b' } }] }] } };
    expect(unknownFields(PrometheusRule, pr)).toEqual(['spec.groups[0].rules[0].label']);
  });

  it('still reports ordinary schema errors (wrong types)', () => {
    const ds = daemonSet() as { spec: { template: { spec: Record<string, unknown> } } };
    ds.spec.template.spec.hostNetwork = 'yes';
    expect(() => validateStrict(DaemonSet, ds)).toThrow(/hostNetwork/);
  });

  it('every rendered manifest of both modes passes, and one misspelling in it fails', () => {
    for (const objs of [helmTemplate({ valuesFiles: [FULL_VALUES] }), helmTemplate({ valuesFiles: [CLUSTER_VALUES] })]) {
      for (const o of objs) validateManifest(o);
      const w = clone(objs.find((o) => o.kind === 'DaemonSet' || o.kind === 'StatefulSet')!) as K8sObject & { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
      w.spec.template.spec.containers[0]!.readinessProbes = {};
      expect(() => validateManifest(w)).toThrow(/containers\[0\]\.readinessProbes/);
    }
    const pr = clone(findOne(helmTemplate({ valuesFiles: [FULL_VALUES] }), 'PrometheusRule')) as K8sObject & { spec: { groups: Record<string, unknown>[] } };
    pr.spec.groups[0]!.intervall = '1m';
    expect(() => validateManifest(pr)).toThrow(/spec\.groups\[0\]\.intervall/);
  });
});
