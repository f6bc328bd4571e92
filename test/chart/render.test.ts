/**
 * The chart as CI checks it: `helm lint --strict` and `helm template` for the
 * default values (node mode), every chart/ci/*.yaml file (node mode with every
 * feature, cluster mode) and the branches in between; every rendered manifest
 * validated offline and strictly (unknown fields rejected) against the
 * Kubernetes and prometheus-operator schemas, and the rendered config.yaml
 * loaded with the sidecar's own config schema.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { IDaemonSet, IStatefulSet } from 'kubernetes-models/apps/v1';
import type { IConfigMap, IService, IContainer, IVolume, IPod, IPodSpec, IPodTemplateSpec } from 'kubernetes-models/v1';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { IServiceMonitor, IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { parseHostPort, type Config } from '../../src/config/schema.js';
import { CHART_DIR, CLUSTER_VALUES, FULL_VALUES, findOne, helmTemplate, runHelm, tryTemplate, validateManifest, type K8sObject } from '../helpers/helm.js';
import { loadRenderedConfig, type LoadedConfig } from './sidecar-config.js';
import { baselineViolations, restrictedViolations } from './pod-security.js';

const CI_DIR = join(CHART_DIR, 'ci');
const CI_FILES = readdirSync(CI_DIR).filter((f) => f.endsWith('.yaml')).map((f) => join(CI_DIR, f));

function configMapWith(objs: readonly K8sObject[], key: string): IConfigMap {
  const hits = objs.filter((o) => o.kind === 'ConfigMap' && (o as unknown as IConfigMap).data?.[key] !== undefined);
  expect(hits, `ConfigMaps holding ${key}`).toHaveLength(1);
  return hits[0] as unknown as IConfigMap;
}

function loaded(objs: readonly K8sObject[]): LoadedConfig {
  return loadRenderedConfig(configMapWith(objs, 'config.yaml').data!['config.yaml']!);
}
function sidecarConfig(objs: readonly K8sObject[]): Config {
  return loaded(objs).cfg;
}

type Workload = IDaemonSet | IStatefulSet;
function workload(objs: readonly K8sObject[]): Workload {
  const hits = objs.filter((o) => o.kind === 'DaemonSet' || o.kind === 'StatefulSet');
  expect(hits.map((h) => h.kind), 'one workload').toHaveLength(1);
  return hits[0] as unknown as Workload;
}
function podTemplate(w: Workload): IPodTemplateSpec {
  return w.spec!.template;
}
function sidecarContainer(w: Workload): IContainer {
  const c = podTemplate(w).spec!.containers.find((x) => x.name === 'sidecar');
  expect(c, 'sidecar container').toBeDefined();
  return c!;
}
function volume(w: Workload, name: string): IVolume {
  const v = podTemplate(w).spec!.volumes?.find((x) => x.name === name);
  expect(v, `volume ${name}`).toBeDefined();
  return v!;
}
function mountPath(c: IContainer, volumeName: string): string {
  const m = c.volumeMounts?.find((x) => x.name === volumeName);
  expect(m, `mount of ${volumeName}`).toBeDefined();
  return m!.mountPath;
}
function services(objs: readonly K8sObject[], component: string): IService[] {
  return objs.filter((o) => o.kind === 'Service' && o.metadata.labels?.['app.kubernetes.io/component'] === component) as unknown as IService[];
}

/** Every `*_file` setting of the config: it must be a file the pod mounts. */
function fileSettings(raw: unknown, prefix = ''): [string, string][] {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return [];
  return Object.entries(raw as Record<string, unknown>).flatMap(([k, v]) => {
    const key = prefix ? `${prefix}.${k}` : k;
    if (k.endsWith('_file') && typeof v === 'string' && v !== '') return [[key, v] as [string, string]];
    return fileSettings(v, key);
  });
}

/** Assertions every rendering must satisfy, whatever the values and the mode. */
function checkCommon(objs: readonly K8sObject[]): { cfg: Config; w: Workload; c: IContainer; l: LoadedConfig } {
  for (const o of objs) validateManifest(o);
  const names = objs.map((o) => `${o.kind}/${o.metadata.name}`);
  expect(new Set(names).size, 'no duplicate resources').toBe(names.length);

  const l = loaded(objs);
  const cfg = l.cfg;
  const w = workload(objs);
  const c = sidecarContainer(w);
  const pod = podTemplate(w).spec!;

  // Same entry point as the image: `node dist/cli.js run --config <mounted file>`.
  expect(c.command).toBeUndefined();
  expect(c.args!.slice(0, 3)).toEqual(['run', '--config', '/etc/talos-alert-sidecar/config.yaml']);
  const cfgMount = c.volumeMounts!.find((m) => m.name === 'config')!;
  expect(cfgMount.mountPath).toBe('/etc/talos-alert-sidecar/config.yaml');
  expect(cfgMount.subPath).toBe('config.yaml');

  // Hardening.
  const sc = c.securityContext!;
  expect(sc.runAsNonRoot).toBe(true);
  expect(sc.readOnlyRootFilesystem).toBe(true);
  expect(sc.allowPrivilegeEscalation).toBe(false);
  expect(sc.privileged).toBe(false);
  expect(sc.capabilities?.drop).toEqual(['ALL']);
  expect(sc.capabilities?.add ?? []).toEqual([]);
  expect(pod.securityContext!.runAsNonRoot).toBe(true);
  expect(pod.securityContext!.runAsUser).toBeGreaterThan(0);
  expect(pod.securityContext!.seccompProfile?.type).toBe('RuntimeDefault');
  expect(pod.automountServiceAccountToken).toBe(false);
  expect(c.resources?.requests?.memory).toBeDefined();
  expect(c.resources?.limits?.memory).toBeDefined();

  // Probes on the HTTP port, at the sidecar's health endpoints.
  expect(c.livenessProbe!.httpGet).toEqual({ path: '/healthz', port: 'http' });
  expect(c.readinessProbe!.httpGet).toEqual({ path: '/readyz', port: 'http' });

  // NODE_NAME from the downward API (the config may expand it).
  expect(c.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });

  // Ports agree between config, container and Services.
  const httpPort = c.ports!.find((p) => p.name === 'http')!;
  expect(parseHostPort(cfg.http.listen).port).toBe(httpPort.containerPort);
  const ingestPort = parseHostPort(cfg.ingest.listen).port;
  for (const p of c.ports!.filter((x) => x.name!.startsWith('ingest-'))) expect(p.containerPort).toBe(ingestPort);
  expect(c.ports!.some((p) => p.name === 'ingest-tcp' && p.protocol === 'TCP')).toBe(cfg.ingest.tcp);
  expect(c.ports!.some((p) => p.name === 'ingest-udp' && p.protocol === 'UDP')).toBe(cfg.ingest.udp);

  const podLabels = podTemplate(w).metadata!.labels!;
  const [httpSvc, ...moreHttp] = services(objs, 'http');
  expect(moreHttp).toHaveLength(0);
  expect(httpSvc!.spec!.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 'http' }]);
  for (const [k, v] of Object.entries(httpSvc!.spec!.selector!)) expect(podLabels[k]).toBe(v);
  expect(w.spec!.selector.matchLabels).toEqual(httpSvc!.spec!.selector);
  for (const svc of services(objs, 'ingest')) {
    for (const p of svc.spec!.ports!) {
      const target = c.ports!.find((cp) => cp.name === p.targetPort);
      expect(target?.protocol, `${svc.metadata!.name} targetPort ${String(p.targetPort)}`).toBe(p.protocol);
    }
  }

  // Rules: the config points at the parent of the tenant directory the ConfigMap is mounted as.
  expect(cfg.rules.paths).toEqual(['/etc/talos-alert-sidecar/rules']);
  expect(mountPath(c, 'rules')).toMatch(/^\/etc\/talos-alert-sidecar\/rules\/[A-Za-z0-9_][A-Za-z0-9_.-]*$/);
  expect(c.volumeMounts!.find((m) => m.name === 'rules')!.subPath).toBeUndefined();

  // Writable places exist for what the config writes to; everything else is read-only.
  const writable = c.volumeMounts!.filter((m) => !m.readOnly).map((m) => m.mountPath);
  for (const path of [cfg.loki.spoolDir, cfg.state.file].filter((p) => p !== '')) {
    expect(writable.some((w) => path.startsWith(`${w}/`)), `${path} on a writable volume`).toBe(true);
  }
  // Every file the config names is mounted, from a Secret volume that provides it.
  for (const [key, path] of fileSettings(l.raw)) {
    const m = c.volumeMounts!.find((x) => path.startsWith(`${x.mountPath}/`));
    expect(m, `${key}: ${path} is mounted`).toBeDefined();
    const vol = volume(w, m!.name);
    const file = path.slice(m!.mountPath.length + 1);
    expect(vol.secret?.items?.map((i) => i.path), `${key}: ${vol.name} provides ${file}`).toContain(file);
  }

  // The helm test pod reaches /readyz through the HTTP Service.
  const tests = objs.filter((o) => o.metadata.annotations?.['helm.sh/hook'] === 'test') as unknown as IPod[];
  for (const t of tests) {
    const url = t.spec!.containers[0]!.command!.at(-1)!;
    expect(url).toBe(`http://${httpSvc!.metadata!.name}.${httpSvc!.metadata!.namespace}.svc:${httpSvc!.spec!.ports![0]!.port}/readyz`);
    expect(t.spec!.restartPolicy).toBe('Never');
    expect(t.spec!.containers[0]!.securityContext!.readOnlyRootFilesystem).toBe(true);
  }
  return { cfg, w, c, l };
}

describe('helm lint --strict', () => {
  it('passes with default values (node mode) and with cluster mode defaults', () => {
    for (const extra of [[], ['--set', 'mode=cluster']]) {
      const r = runHelm(['lint', '--strict', 'chart/', ...extra]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('0 chart(s) failed');
      expect(r.stdout + r.stderr).not.toMatch(/\[(WARNING|INFO)\]/); // icon, home, … present
    }
  });

  it('passes with every chart/ci values file', () => {
    expect(CI_FILES.map((f) => f.slice(CI_DIR.length + 1)).sort()).toEqual(['cluster-values.yaml', 'full-values.yaml']);
    for (const f of CI_FILES) {
      const r = runHelm(['lint', '--strict', 'chart/', '-f', f]);
      expect(r.status, `${f}\n${r.stdout}${r.stderr}`).toBe(0);
    }
  });

  it('fails on a values type error (the schema is enforced)', () => {
    const r = runHelm(['lint', '--strict', 'chart/', '--set', 'ingest.port=abc']);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('ingest.port');
  });
});

describe('every chart/ci values file renders strictly valid manifests', () => {
  for (const f of CI_FILES) {
    it(f.slice(CI_DIR.length + 1), () => {
      checkCommon(helmTemplate({ valuesFiles: [f] }));
    });
  }
});

describe('node mode, default values', () => {
  const objs = helmTemplate();

  it('renders exactly the expected resources, all strictly valid', () => {
    expect(objs.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'ConfigMap', 'DaemonSet', 'Pod', 'Service', 'ServiceAccount']);
    for (const o of objs) expect(o.metadata.namespace).toBe('monitoring');
    checkCommon(objs);
  });

  it('runs on the host network with cluster DNS, and no ingest Service', () => {
    const pod = podTemplate(workload(objs)).spec!;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(services(objs, 'ingest')).toHaveLength(0);
    expect(sidecarContainer(workload(objs)).ports!.every((p) => p.hostPort === undefined)).toBe(true);
  });

  it('listens for Talos on 127.0.0.1 only: Talos sends to itself, nobody else can', () => {
    const cfg = sidecarConfig(objs);
    expect(cfg.ingest.listen).toBe('127.0.0.1:6000');
    expect(cfg.http.listen).toBe('0.0.0.0:8080');
  });

  it('labels every alert with the node name from the downward API', () => {
    const cfg = sidecarConfig(objs);
    expect(cfg.rules.externalLabels).toEqual({ node: '${NODE_NAME}' });
    const env = sidecarContainer(workload(objs)).env!;
    expect(env.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('spec.nodeName');
  });

  it('renders a config.yaml the sidecar accepts, pointed at the seed cluster', () => {
    const cfg = sidecarConfig(objs);
    expect(cfg.alertmanager.urls).toEqual(['http://kube-prometheus-stack-alertmanager.monitoring.svc.cluster.local:9093']);
    expect(cfg.loki.url).toBe('http://loki.monitoring.svc.cluster.local:3100');
    expect(cfg.talos.job).toBe('talos-kernel');
    expect(cfg.loki.spoolDir).toBe('/var/lib/talos-alert-sidecar/spool');
    expect(cfg.loki.spoolMaxBytes).toBe(768 * 1024 * 1024);
    expect(cfg.state.file).toBe('/var/lib/talos-alert-sidecar/state.json');
    expect(cfg.http.adminEnabled).toBe(false);
    expect(cfg.rules.watch).toBe(true);
    expect(loaded(objs).raw.talos).not.toHaveProperty('host_field'); // the sidecar's default applies
  });

  it('tolerates every NoSchedule taint and keeps the spool in an emptyDir', () => {
    const w = workload(objs);
    const pod = podTemplate(w).spec!;
    expect(pod.tolerations).toEqual([{ operator: 'Exists', effect: 'NoSchedule' }]);
    expect(volume(w, 'data').emptyDir).toEqual({ sizeLimit: '1Gi' });
    expect(pod.initContainers).toBeUndefined();
    expect(sidecarContainer(w).image).toBe('ghcr.io/talos-alert-sidecar/talos-alert-sidecar:0.1.0');
  });
});

describe('node mode, chart/ci/full-values.yaml (every feature, hostPort)', () => {
  const objs = helmTemplate({ valuesFiles: [FULL_VALUES] });
  const full = parseYaml(readFileSync(FULL_VALUES, 'utf8')) as {
    config: { loki: Record<string, unknown> };
    networkPolicy: { ingest: { cidrs: string[] } };
    prometheusRule: { ruleLabels: Record<string, string> };
  };

  it('renders every resource kind, all strictly valid', () => {
    expect(objs.map((o) => o.kind).sort()).toEqual([
      'ConfigMap', 'ConfigMap', 'ConfigMap', 'ConfigMap', 'DaemonSet', 'NetworkPolicy', 'Pod', 'PrometheusRule', 'Service', 'ServiceAccount', 'ServiceMonitor',
    ]);
    checkCommon(objs);
  });

  it('publishes the ingest port as a hostPort (no host network), listening on all addresses', () => {
    const w = workload(objs);
    expect(podTemplate(w).spec!.hostNetwork).toBeUndefined();
    const ingest = sidecarContainer(w).ports!.filter((p) => p.name!.startsWith('ingest-'));
    expect(ingest.map((p) => [p.protocol, p.hostPort])).toEqual([['TCP', 6000], ['UDP', 6000]]);
    expect(sidecarConfig(objs).ingest.listen).toBe('0.0.0.0:6000');
  });

  it('renders a config.yaml the sidecar accepts, with chart values and `config` passthrough', () => {
    const { cfg, raw, pending } = loaded(objs);
    expect(cfg.alertmanager.urls).toHaveLength(2);
    expect(cfg.alertmanager.tenant).toBe('homelab');
    expect(cfg.loki.tenant).toBe('homelab');
    expect(cfg.loki.spoolMaxBytes).toBe(2 * 1024 ** 3);
    expect(cfg.loki.structuredMetadata).toBe(false);
    expect(cfg.talos.labelFields).toEqual(['facility']);
    expect(cfg.talos.staticLabels).toEqual({ cluster: 'homelab' });
    expect(cfg.talos.hostNames).toEqual({ '192.168.5.1': 'talos-519-vmy' });
    expect((raw.talos as Record<string, unknown>).host_field).toBe('node-name');
    if ('talos.host_field' in pending) expect(pending['talos.host_field']).toBe('node-name');
    expect(cfg.rules.resendDelayMs).toBe(60_000);
    expect(cfg.rules.externalUrl).toBe('https://grafana.burntbytes.com');
    expect(cfg.rules.externalLabels).toEqual({ source: 'talos-alert-sidecar', cluster: '${CLUSTER_NAME}', k8s_node: '${NODE_NAME}' });
    expect(cfg.ingest.allowCidrs).toEqual(['192.168.5.0/24', 'fd00::/8']);
    expect(cfg.state.intervalMs).toBe(15_000);
  });

  it('takes Alertmanager and Loki credentials and TLS files from the named Secrets', () => {
    const { cfg } = loaded(objs);
    const w = workload(objs);
    const secretOf = (path: string): string => {
      const m = sidecarContainer(w).volumeMounts!.find((x) => path.startsWith(`${x.mountPath}/`))!;
      return volume(w, m.name).secret!.secretName!;
    };
    expect(cfg.alertmanager.basicAuthUsername).toBe('talos');
    expect(secretOf(cfg.alertmanager.basicAuthPasswordFile)).toBe('alertmanager-basic-auth');
    expect(secretOf(cfg.alertmanager.tls.caFile)).toBe('alertmanager-tls');
    expect(secretOf(cfg.alertmanager.tls.certFile)).toBe('alertmanager-tls');
    expect(secretOf(cfg.alertmanager.tls.keyFile)).toBe('alertmanager-tls');
    expect(secretOf(cfg.loki.bearerTokenFile)).toBe('loki-token');
    expect(secretOf(cfg.loki.tls.caFile)).toBe('loki-ca');
    expect(cfg.loki.tls.certFile).toBe('');
    const tlsVol = volume(w, 'alertmanager-tls').secret!;
    expect(tlsVol.items).toEqual([{ key: 'ca.crt', path: 'ca.crt' }, { key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }]);
  });

  it('adds extraEnvFrom, extraContainers (through tpl) and extraObjects', () => {
    const w = workload(objs);
    const pod = podTemplate(w).spec!;
    expect(sidecarContainer(w).envFrom).toEqual([{ configMapRef: { name: 'talos-alert-sidecar-env' } }]);
    const proxy = pod.containers.find((c) => c.name === 'metrics-tls-proxy')!;
    expect(proxy.args).toContain('--upstream=http://127.0.0.1:8080');
    const extra = findOne<IConfigMap>(objs, 'ConfigMap', 'talos-alert-sidecar-env');
    expect(extra.metadata!.namespace).toBe('monitoring');
    expect(extra.data).toEqual({ CLUSTER_NAME: 'homelab' });
  });

  it('mounts the admin token the config names, from the given Secret', () => {
    const cfg = sidecarConfig(objs);
    expect(cfg.http.adminEnabled).toBe(true);
    const w = workload(objs);
    const dir = mountPath(sidecarContainer(w), 'admin-token');
    const secret = volume(w, 'admin-token').secret!;
    expect(secret.secretName).toBe('talos-alert-sidecar-admin');
    expect(cfg.http.adminTokenFile).toBe(`${dir}/${secret.items![0]!.path}`);
  });

  it('reuses the Loki ruler ConfigMap as is, next to the extra rule files', () => {
    const w = workload(objs);
    const sources = volume(w, 'rules').projected!.sources!.map((s) => s.configMap!.name);
    const own = findOne<IConfigMap>(objs, 'ConfigMap', '-rules');
    expect(sources).toEqual(['loki-alerting-rules', own.metadata!.name]);
    expect(Object.keys(own.data!)).toEqual(['extra.yaml']);
    expect((parseYaml(own.data!['extra.yaml']!) as { groups: unknown[] }).groups).toHaveLength(1);
  });

  it('keeps the spool and state on a hostPath owned by the sidecar user', () => {
    const w = workload(objs);
    const pod = podTemplate(w).spec!;
    expect(volume(w, 'data').hostPath).toEqual({ path: '/var/lib/talos-alert-sidecar', type: 'DirectoryOrCreate' });
    const [init] = pod.initContainers!;
    expect(init!.command).toEqual(['chown', `${pod.securityContext!.runAsUser}:${pod.securityContext!.runAsGroup}`, mountPath(sidecarContainer(w), 'data')]);
    expect(init!.securityContext!.capabilities).toEqual({ drop: ['ALL'], add: ['CHOWN'] });
    expect(init!.securityContext!.allowPrivilegeEscalation).toBe(false);
  });

  it('pins the image by digest and applies the pod-level options', () => {
    const w = workload(objs);
    const pod = podTemplate(w).spec!;
    const c = sidecarContainer(w);
    expect(c.image).toMatch(/^registry\.example\.com\/talos-alert-sidecar@sha256:[a-f0-9]{64}$/);
    expect(c.args!.slice(3)).toEqual(['--log-level', 'debug']);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(pod.affinity?.nodeAffinity).toBeDefined();
    expect(pod.affinity?.podAntiAffinity).toBeUndefined(); // one pod per node anyway
    expect(podTemplate(w).metadata!.labels!.team).toBe('platform');
    expect(mountPath(c, 'loki-auth')).toBe('/etc/talos-alert-sidecar/loki-auth');
  });

  it('scrapes /metrics on the HTTP Service only, with TLS, target labels and the release label', () => {
    const sm = findOne<IServiceMonitor>(objs, 'ServiceMonitor');
    expect(sm.metadata!.labels!.release).toBe('kube-prometheus-stack');
    expect(sm.spec.endpoints![0]).toMatchObject({ port: 'http', path: '/metrics', interval: '15s', scheme: 'https' });
    expect(sm.spec.endpoints![0]!.tlsConfig).toMatchObject({ serverName: 'talos-alert-sidecar.monitoring.svc', ca: { secret: { name: 'metrics-ca', key: 'ca.crt' } } });
    expect(sm.spec.targetLabels).toEqual(['app.kubernetes.io/instance']);
    expect(sm.spec.podTargetLabels).toEqual(['team']);
    const svcs = objs.filter((o) => o.kind === 'Service') as unknown as IService[];
    const selected = svcs.filter((s) => Object.entries(sm.spec.selector.matchLabels!).every(([k, v]) => s.metadata!.labels![k] === v));
    expect(selected).toHaveLength(1);
    expect(selected[0]!.spec!.ports!.map((p) => p.name)).toEqual(['http']);
  });

  it('PrometheusRule: rule labels on every alert, disabled alerts left out', () => {
    const pr = findOne<IPrometheusRule>(objs, 'PrometheusRule');
    const rules = pr.spec.groups![0]!.rules!;
    expect(rules.map((r) => r.alert)).not.toContain('TalosAlertSidecarSpoolCorrupt');
    expect(rules.map((r) => r.alert)).toContain('TalosAlertSidecarSpoolNearlyFull');
    for (const r of rules) expect(r.labels).toMatchObject(full.prometheusRule.ruleLabels);
    const spool = rules.find((r) => r.alert === 'TalosAlertSidecarSpoolNearlyFull')!;
    expect(String(spool.expr)).toMatch(new RegExp(`> 0\\.9 \\* ${2 * 1024 ** 3}$`));
    expect(String(rules.find((r) => r.alert === 'TalosAlertSidecarNoLinesFromHost')!.expr)).toContain('[30m]');
  });

  it('ships the Grafana dashboard for the Grafana sidecar', () => {
    const cm = configMapWith(objs, 'talos-alert-sidecar.json');
    expect(cm.metadata!.labels!.grafana_dashboard).toBe('1');
    expect(cm.metadata!.annotations!.grafana_folder).toBe('Talos');
    const file = readFileSync(join(CHART_DIR, 'dashboards/talos-alert-sidecar.json'), 'utf8');
    expect(JSON.parse(cm.data!['talos-alert-sidecar.json']!)).toEqual(JSON.parse(file));
  });

  it('lets the Talos nodes in on the ingest port and monitoring in on HTTP', () => {
    const np = findOne<INetworkPolicy>(objs, 'NetworkPolicy');
    const [ingest, http] = np.spec!.ingress!;
    expect(ingest!.ports).toEqual([{ protocol: 'TCP', port: 6000 }, { protocol: 'UDP', port: 6000 }]);
    expect(ingest!.from!.map((f) => f.ipBlock?.cidr)).toEqual([...full.networkPolicy.ingest.cidrs, '10.244.0.0/16']);
    expect(http!.ports).toEqual([{ protocol: 'TCP', port: 8080 }]);
    expect(np.spec!.podSelector!.matchLabels).toEqual(workload(objs).spec!.selector.matchLabels);
  });
});

describe('cluster mode', () => {
  const defaults = helmTemplate({ set: ['mode=cluster'] });
  const ci = helmTemplate({ valuesFiles: [CLUSTER_VALUES] });

  it('an HA pair: a StatefulSet of 2 peers, kept on different nodes', () => {
    const { w } = checkCommon(defaults);
    const sts = w as IStatefulSet;
    expect(defaults.filter((o) => o.kind === 'DaemonSet')).toHaveLength(0);
    expect(sts.kind).toBe('StatefulSet');
    expect(sts.spec!.replicas).toBe(2);
    expect(sts.spec!.podManagementPolicy).toBe('Parallel');
    const pod = podTemplate(sts).spec!;
    expect(pod.hostNetwork).toBeUndefined();
    const term = pod.affinity!.podAntiAffinity!.requiredDuringSchedulingIgnoredDuringExecution![0]!;
    expect(term.topologyKey).toBe('kubernetes.io/hostname');
    expect(term.labelSelector!.matchLabels).toEqual(sts.spec!.selector.matchLabels);
  });

  it('each replica has its own Service (its own stable address) selecting that pod only', () => {
    const sts = workload(defaults) as IStatefulSet;
    const ingest = services(defaults, 'ingest');
    expect(ingest).toHaveLength(2);
    ingest.forEach((svc, i) => {
      expect(svc.spec!.type).toBe('NodePort');
      expect(svc.spec!.externalTrafficPolicy).toBe('Cluster');
      expect(svc.spec!.selector!['statefulset.kubernetes.io/pod-name']).toBe(`${sts.metadata!.name}-${i}`);
      for (const [k, v] of Object.entries(sts.spec!.selector.matchLabels!)) expect(svc.spec!.selector![k]).toBe(v);
      expect(svc.spec!.ports!.map((p) => [p.protocol, p.nodePort])).toEqual([['TCP', 30600 + i], ['UDP', 30600 + i]]);
    });
  });

  it('both replicas send identical alerts: no per-pod label, no environment expansion in alert labels', () => {
    for (const objs of [defaults, ci]) {
      const { cfg, raw } = loaded(objs);
      expect(Object.keys(cfg.rules.externalLabels)).not.toContain('node');
      expect(JSON.stringify((raw.rules as Record<string, unknown>).external_labels)).not.toContain('$');
      expect(cfg.ingest.listen).toBe('0.0.0.0:6000'); // reached through the Services
    }
    expect(sidecarConfig(ci).rules.externalLabels).toEqual({ cluster: 'homelab' });
  });

  it('chart/ci/cluster-values.yaml: LoadBalancer Services with fixed IPs, claims per replica, Secret credentials', () => {
    const { w, cfg } = checkCommon(ci);
    const sts = w as IStatefulSet;
    const ingest = services(ci, 'ingest');
    expect(ingest.map((s) => [s.spec!.type, s.spec!.loadBalancerIP])).toEqual([['LoadBalancer', '192.168.5.240'], ['LoadBalancer', '192.168.5.241']]);
    for (const s of ingest) expect(s.spec!.ports!.every((p) => p.nodePort === undefined)).toBe(true);
    const [claim] = sts.spec!.volumeClaimTemplates!;
    expect(claim!.metadata!.name).toBe('data');
    expect(claim!.spec!.resources!.requests!.storage).toBe('2Gi');
    expect(claim!.spec!.storageClassName).toBe('local-path');
    expect(podTemplate(sts).spec!.volumes!.some((v) => v.name === 'data')).toBe(false);
    expect(mountPath(sidecarContainer(sts), 'data')).toBe('/var/lib/talos-alert-sidecar');
    // The user's soft zone spreading is kept next to the chart's soft per-node term.
    const preferred = podTemplate(sts).spec!.affinity!.podAntiAffinity!.preferredDuringSchedulingIgnoredDuringExecution!;
    expect(preferred.map((p) => p.podAffinityTerm.topologyKey)).toEqual(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
    expect(cfg.loki.basicAuthUsername).toBe('talos');
    expect(cfg.loki.tls.certFile).toMatch(/\/loki-tls\/tls\.crt$/);
    expect(cfg.alertmanager.bearerTokenFile).toMatch(/\/alertmanager-bearer-token\/token$/);
    expect((loaded(ci).raw.talos as Record<string, unknown>).host_field).toBe('node-name');
  });
});

describe('helm template, other branches', () => {
  it('UDP only: no TCP port anywhere, and the config agrees', () => {
    const objs = helmTemplate({ set: ['ingest.tcp=false', 'networkPolicy.enabled=true'] });
    const { cfg } = checkCommon(objs);
    expect(cfg.ingest.tcp).toBe(false);
    expect(cfg.ingest.udp).toBe(true);
    const np = findOne<INetworkPolicy>(objs, 'NetworkPolicy');
    expect(np.spec!.ingress![0]!.ports).toEqual([{ protocol: 'UDP', port: 6000 }]);
    expect(np.spec!.ingress![0]!.from).toBeUndefined();
    const cluster = helmTemplate({ set: ['ingest.tcp=false', 'mode=cluster'] });
    checkCommon(cluster);
    for (const s of services(cluster, 'ingest')) expect(s.spec!.ports!.map((p) => p.protocol)).toEqual(['UDP']);
  });

  const refusals: { name: string; set?: string[]; setJson?: string[]; message: string }[] = [
    { name: 'neither TCP nor UDP', set: ['ingest.tcp=false', 'ingest.udp=false'], message: 'at least one of ingest.tcp and ingest.udp' },
    { name: 'no rules at all', set: ['rules.defaultRules=false'], message: 'nothing to load' },
    { name: 'admin without a Secret', set: ['http.admin.enabled=true'], message: 'http.admin.existingSecret is required' },
    { name: 'node mode with neither host network nor hostPort', set: ['node.hostNetwork=false'], message: 'node mode needs node.hostNetwork or node.hostPort' },
    { name: 'a claim in node mode', set: ['persistence.type=pvc'], message: 'persistence.type pvc is for cluster mode' },
    { name: 'a hostPath in cluster mode', set: ['mode=cluster', 'persistence.type=hostPath'], message: 'persistence.type hostPath is for node mode' },
    { name: 'fewer node ports than replicas', set: ['mode=cluster', 'cluster.replicas=3'], message: 'one port per replica (3)' },
    { name: 'a per-pod alert label in cluster mode', setJson: ['mode="cluster"', 'rules.externalLabels={"pod":"${POD_NAME}"}'], message: 'rules.externalLabels.pod: in cluster mode' },
    { name: 'a basic-auth Secret without a user name', set: ['loki.basicAuth.existingSecret=s'], message: 'loki.basicAuth.username is required' },
    { name: 'basic auth and a bearer token together', set: ['alertmanager.basicAuth.existingSecret=s', 'alertmanager.basicAuth.username=u', 'alertmanager.bearerToken.existingSecret=t'], message: 'alertmanager: set basicAuth or bearerToken, not both' },
    { name: 'a client certificate without its key', set: ['loki.tls.existingSecret=s', 'loki.tls.certKey=tls.crt'], message: 'loki.tls: certKey and keyKey go together' },
  ];
  for (const r of refusals) {
    it(`refuses ${r.name}`, () => {
      const res = tryTemplate({ set: r.set, setJson: r.setJson });
      expect(res.status).not.toBe(0);
      expect(res.stderr).toContain(r.message);
    });
  }

  it('existing ConfigMap alone: mounted directly, no chart rules ConfigMap', () => {
    const objs = helmTemplate({ set: ['rules.existingConfigMap=loki-alerting-rules'] });
    checkCommon(objs);
    expect(objs.some((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-rules'))).toBe(false);
    expect(volume(workload(objs), 'rules').configMap?.name).toBe('loki-alerting-rules');
  });

  it('no spool and no state: no data volume, and the config has neither', () => {
    const objs = helmTemplate({ set: ['loki.spool.enabled=false', 'state.enabled=false'] });
    const { cfg, w } = checkCommon(objs);
    expect(cfg.loki.spoolDir).toBe('');
    expect(cfg.state.file).toBe('');
    expect(podTemplate(w).spec!.volumes!.some((v) => v.name === 'data')).toBe(false);
  });

  it('node.alertLabel empty: no node label; helm test off: no test pod', () => {
    const objs = helmTemplate({ setJson: ['node.alertLabel=""', 'tests.enabled=false'] });
    checkCommon(objs);
    expect(sidecarConfig(objs).rules.externalLabels).toEqual({});
    expect(objs.some((o) => o.kind === 'Pod')).toBe(false);
  });

  it('`config` passthrough wins over chart-rendered keys, false included', () => {
    const objs = helmTemplate({ setJson: ['config={"rules":{"watch":false},"ingest":{"tcp":true,"max_connections":64}}'] });
    const cfg = sidecarConfig(objs);
    expect(cfg.rules.watch).toBe(false);
    expect(cfg.ingest.maxConnections).toBe(64);
  });

  it('a passthrough key the sidecar does not know fails when the config is loaded', () => {
    const objs = helmTemplate({ setJson: ['config={"loki":{"bogus_key":1}}'] });
    expect(() => sidecarConfig(objs)).toThrow(/loki\.bogus_key: unknown setting/);
  });

  it('IPv6 bind address is bracketed in listen addresses', () => {
    const cfg = sidecarConfig(helmTemplate({ set: ['bindAddress=::', 'ingest.bindAddress=::1'] }));
    expect(cfg.ingest.listen).toBe('[::1]:6000');
    expect(parseHostPort(cfg.http.listen)).toEqual({ host: '::', port: 8080 });
  });

  it('a misspelt field that reaches a manifest (through extraContainers) is rejected by the strict validation', () => {
    const objs = helmTemplate({ setJson: ['extraContainers=[{"name":"x","image":"busybox","imagePullPolicey":"Always"}]'] });
    const w = objs.find((o) => o.kind === 'DaemonSet')!;
    expect(() => validateManifest(w)).toThrow(/unknown field\(s\): spec\.template\.spec\.containers\[1\]\.imagePullPolicey/);
  });
});

describe('Pod Security Standards', () => {
  const podOf = (objs: readonly K8sObject[]): IPodSpec => podTemplate(workload(objs)).spec!;

  it('cluster mode (defaults and chart/ci/cluster-values.yaml) and the helm test pod run under `restricted`', () => {
    for (const objs of [helmTemplate({ set: ['mode=cluster'] }), helmTemplate({ valuesFiles: [CLUSTER_VALUES] })]) {
      expect(restrictedViolations(podOf(objs))).toEqual([]);
    }
    const testPod = findOne<IPod>(helmTemplate(), 'Pod', '-test-readyz');
    expect(restrictedViolations(testPod.spec!)).toEqual([]);
  });

  it('node mode needs `privileged` for the host network alone; the container is otherwise restricted', () => {
    expect(restrictedViolations(podOf(helmTemplate()))).toEqual(['hostNetwork']);
    // hostPort instead, with a hostPath spool and its chown init container: each shows up.
    expect(restrictedViolations(podOf(helmTemplate({ valuesFiles: [FULL_VALUES] }))).sort()).toEqual(
      [
        'hostPath volume data',
        'sidecar: hostPort 6000',
        'volume data: hostPath',
        'fix-permissions: runAsNonRoot',
        'fix-permissions: runAsUser 0',
        'fix-permissions: adds CHOWN',
        // The example extra container in full-values.yaml sets no securityContext.
        'metrics-tls-proxy: allowPrivilegeEscalation not false',
        'metrics-tls-proxy: capabilities not dropping ALL',
      ].sort(),
    );
  });

  it('the checker itself flags what it should', () => {
    const pod: IPodSpec = { hostPID: true, containers: [{ name: 'c', securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN'] } } }] };
    expect(baselineViolations(pod)).toEqual(['hostPID', 'c: privileged', 'c: capability SYS_ADMIN']);
  });
});
