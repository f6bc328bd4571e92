/**
 * The chart as CI checks it: `helm lint --strict`, `helm template` with the
 * default values and with chart/ci/full-values.yaml (every optional feature),
 * every rendered manifest validated offline against the Kubernetes and
 * prometheus-operator schemas, and the rendered config.yaml loaded with the
 * sidecar's own config schema.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { IDaemonSet } from 'kubernetes-models/apps/v1';
import type { IConfigMap, IService, IContainer, IVolume } from 'kubernetes-models/v1';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { applyDocument, defaultConfig, parseHostPort, validate, type Config } from '../../src/config/schema.js';
import {
  CHART_DIR,
  FULL_VALUES,
  REPO_ROOT,
  findOne,
  helmTemplate,
  runHelm,
  tryTemplate,
  validateManifest,
  type K8sObject,
  type RenderOptions,
} from '../helpers/helm.js';

const CHART_RULES = join(CHART_DIR, 'rules/talos-kernel.yaml');

function configMapWith(objs: readonly K8sObject[], key: string): IConfigMap {
  const hits = objs.filter((o) => o.kind === 'ConfigMap' && (o as unknown as IConfigMap).data?.[key] !== undefined);
  expect(hits, `ConfigMaps holding ${key}`).toHaveLength(1);
  return hits[0] as unknown as IConfigMap;
}

/** The rendered config.yaml, loaded exactly as the sidecar loads its config file. */
function sidecarConfig(objs: readonly K8sObject[]): Config {
  const text = configMapWith(objs, 'config.yaml').data!['config.yaml']!;
  const cfg = defaultConfig();
  applyDocument(cfg, parseYaml(text));
  validate(cfg);
  return cfg;
}

function daemonSet(objs: readonly K8sObject[]): IDaemonSet {
  return findOne<IDaemonSet>(objs, 'DaemonSet');
}

function sidecarContainer(ds: IDaemonSet): IContainer {
  const c = ds.spec!.template.spec!.containers.find((x) => x.name === 'sidecar');
  expect(c, 'sidecar container').toBeDefined();
  return c!;
}

function volume(ds: IDaemonSet, name: string): IVolume {
  const v = ds.spec!.template.spec!.volumes?.find((x) => x.name === name);
  expect(v, `volume ${name}`).toBeDefined();
  return v!;
}

function mountPath(c: IContainer, volumeName: string): string {
  const m = c.volumeMounts?.find((x) => x.name === volumeName);
  expect(m, `mount of ${volumeName}`).toBeDefined();
  return m!.mountPath;
}

/** Assertions every rendering must satisfy, whatever the values. */
function checkCommon(objs: readonly K8sObject[], opts: { nodePort: number }): { cfg: Config; ds: IDaemonSet; c: IContainer } {
  for (const o of objs) validateManifest(o);
  const names = objs.map((o) => `${o.kind}/${o.metadata.name}`);
  expect(new Set(names).size, 'no duplicate resources').toBe(names.length);

  const cfg = sidecarConfig(objs);
  const ds = daemonSet(objs);
  const c = sidecarContainer(ds);
  const pod = ds.spec!.template.spec!;

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

  // Ports agree between config, container and Services.
  const httpPort = c.ports!.find((p) => p.name === 'http')!;
  expect(parseHostPort(cfg.http.listen).port).toBe(httpPort.containerPort);
  const ingestPort = parseHostPort(cfg.ingest.listen).port;
  for (const p of c.ports!.filter((x) => x.name!.startsWith('ingest-'))) expect(p.containerPort).toBe(ingestPort);
  expect(c.ports!.some((p) => p.name === 'ingest-tcp' && p.protocol === 'TCP')).toBe(cfg.ingest.tcp);
  expect(c.ports!.some((p) => p.name === 'ingest-udp' && p.protocol === 'UDP')).toBe(cfg.ingest.udp);

  const ingestSvc = findOne<IService>(objs, 'Service', '-ingest');
  expect(ingestSvc.spec!.type).toBe('NodePort');
  expect(ingestSvc.spec!.externalTrafficPolicy).toBe('Local');
  const svcPorts = ingestSvc.spec!.ports!;
  expect(svcPorts.map((p) => p.protocol).sort()).toEqual([...(cfg.ingest.tcp ? ['TCP'] : []), ...(cfg.ingest.udp ? ['UDP'] : [])].sort());
  for (const p of svcPorts) {
    expect(p.nodePort).toBe(opts.nodePort);
    const target = c.ports!.find((cp) => cp.name === p.targetPort);
    expect(target?.protocol, `targetPort ${String(p.targetPort)}`).toBe(p.protocol);
  }
  const httpSvc = objs.find((o) => o.kind === 'Service' && o !== (ingestSvc as unknown)) as unknown as IService;
  expect(httpSvc.spec!.type).toBe('ClusterIP');
  expect(httpSvc.spec!.ports).toEqual([{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 'http' }]);
  // Both Services select exactly the DaemonSet's pods.
  const podLabels = ds.spec!.template.metadata!.labels!;
  for (const svc of [ingestSvc, httpSvc]) {
    for (const [k, v] of Object.entries(svc.spec!.selector!)) expect(podLabels[k]).toBe(v);
  }
  expect(ds.spec!.selector.matchLabels).toEqual(ingestSvc.spec!.selector);

  // Rules: the config points at the parent of the tenant directory the ConfigMap is mounted as.
  expect(cfg.rules.paths).toEqual(['/etc/talos-alert-sidecar/rules']);
  expect(mountPath(c, 'rules')).toMatch(/^\/etc\/talos-alert-sidecar\/rules\/[A-Za-z0-9_][A-Za-z0-9_.-]*$/);
  expect(c.volumeMounts!.find((m) => m.name === 'rules')!.subPath).toBeUndefined();

  // Writable places exist for what the config writes to; everything else is read-only.
  const writable = c.volumeMounts!.filter((m) => !m.readOnly).map((m) => m.mountPath);
  for (const path of [cfg.loki.spoolDir, cfg.state.file].filter((p) => p !== '')) {
    expect(writable.some((w) => path.startsWith(`${w}/`)), `${path} on a writable volume`).toBe(true);
  }
  return { cfg, ds, c };
}

describe('helm lint --strict', () => {
  it('passes with default values', () => {
    const r = runHelm(['lint', '--strict', 'chart/']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('0 chart(s) failed');
  });

  it('passes with every optional feature on', () => {
    const r = runHelm(['lint', '--strict', 'chart/', '-f', FULL_VALUES]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('fails on a values type error (the schema is enforced)', () => {
    const r = runHelm(['lint', '--strict', 'chart/', '--set', 'ingest.port=abc']);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('ingest.port');
  });
});

describe('helm template with default values', () => {
  const objs = helmTemplate();

  it('renders exactly the expected resources, all valid against the Kubernetes schemas', () => {
    expect(objs.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'ConfigMap', 'DaemonSet', 'Service', 'Service', 'ServiceAccount']);
    for (const o of objs) expect(o.metadata.namespace).toBe('monitoring');
    checkCommon(objs, { nodePort: 30600 });
  });

  it('renders a config.yaml the sidecar accepts, pointed at the seed cluster', () => {
    const cfg = sidecarConfig(objs);
    expect(cfg.ingest.listen).toBe('0.0.0.0:6000');
    expect(cfg.http.listen).toBe('0.0.0.0:8080');
    expect(cfg.alertmanager.urls).toEqual(['http://kube-prometheus-stack-alertmanager.monitoring.svc.cluster.local:9093']);
    expect(cfg.loki.url).toBe('http://loki.monitoring.svc.cluster.local:3100');
    expect(cfg.talos.job).toBe('talos-kernel');
    expect(cfg.loki.spoolDir).toBe('/var/lib/talos-alert-sidecar/spool');
    expect(cfg.loki.spoolMaxBytes).toBe(768 * 1024 * 1024);
    expect(cfg.state.file).toBe('/var/lib/talos-alert-sidecar/state.json');
    expect(cfg.http.adminEnabled).toBe(false);
    expect(cfg.rules.watch).toBe(true);
  });

  it('runs as a DaemonSet on control-plane nodes too, with an emptyDir spool', () => {
    const ds = daemonSet(objs);
    const pod = ds.spec!.template.spec!;
    expect(pod.tolerations).toContainEqual({ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' });
    expect(volume(ds, 'data').emptyDir?.sizeLimit).toBe('1Gi');
    expect(pod.initContainers).toBeUndefined();
    expect(sidecarContainer(ds).image).toBe('registry.example.com/talos-alert-sidecar:0.1.0');
  });

  it("ships the seed's two rules, byte-identical to the project's rule file", () => {
    const cm = findOne<IConfigMap>(objs, 'ConfigMap', '-rules');
    const chartCopy = readFileSync(CHART_RULES, 'utf8');
    expect(cm.data).toEqual({ 'talos-kernel.yaml': chartCopy });
    // The chart can only embed files under chart/, so it carries a copy of the project's rule file.
    expect(chartCopy).toBe(readFileSync(join(REPO_ROOT, 'rules/talos-kernel.yaml'), 'utf8'));
    const alerts = (parseYaml(chartCopy) as { groups: { rules: { alert: string }[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts).toEqual(['BTRFSCorruptionDetected', 'ISCSIKernelError']);
    const ds = daemonSet(objs);
    expect(volume(ds, 'rules').configMap?.name).toBe(cm.metadata!.name);
  });

  it('changes the pod template checksum when the config changes, not when rules change', () => {
    const sum = (o: RenderOptions): string => daemonSet(helmTemplate(o)).spec!.template.metadata!.annotations!['checksum/config']!;
    const base = sum({});
    expect(sum({ set: ['loki.tenant=other'] })).not.toBe(base);
    expect(sum({ setJson: ['rules.files={"more.yaml":"groups: []\\n"}'] })).toBe(base);
  });
});

describe('helm template with every optional feature (chart/ci/full-values.yaml)', () => {
  const objs = helmTemplate({ valuesFiles: [FULL_VALUES] });
  const full = parseYaml(readFileSync(FULL_VALUES, 'utf8')) as {
    config: { loki: { basic_auth: { password_file: string } } };
    networkPolicy: { ingest: { cidrs: string[] } };
  };

  it('renders every resource kind, all valid (ServiceMonitor against the prometheus-operator schema)', () => {
    expect(objs.map((o) => o.kind).sort()).toEqual([
      'ConfigMap', 'ConfigMap', 'ConfigMap', 'DaemonSet', 'NetworkPolicy', 'Service', 'Service', 'ServiceAccount', 'ServiceMonitor',
    ]);
    checkCommon(objs, { nodePort: 30600 });
  });

  it('renders a config.yaml the sidecar accepts, with chart values and `config` passthrough', () => {
    const cfg = sidecarConfig(objs);
    expect(cfg.alertmanager.urls).toHaveLength(2);
    expect(cfg.alertmanager.tenant).toBe('homelab');
    expect(cfg.loki.tenant).toBe('homelab');
    expect(cfg.loki.spoolMaxBytes).toBe(2 * 1024 ** 3);
    expect(cfg.loki.structuredMetadata).toBe(false);
    expect(cfg.loki.basicAuthPasswordFile).toBe(full.config.loki.basic_auth.password_file);
    expect(cfg.talos.labelFields).toEqual(['facility']);
    expect(cfg.talos.staticLabels).toEqual({ cluster: 'homelab' });
    expect(cfg.talos.hostNames).toEqual({ '192.168.5.1': 'talos-519-vmy' });
    expect(cfg.rules.resendDelayMs).toBe(60_000);
    expect(cfg.rules.externalUrl).toBe('https://grafana.burntbytes.com');
    expect(cfg.rules.externalLabels).toEqual({ source: 'talos-alert-sidecar' });
    expect(cfg.ingest.allowCidrs).toEqual(['192.168.5.0/24', 'fd00::/8']);
    expect(cfg.state.intervalMs).toBe(15_000);
  });

  it('mounts the admin token the config names, from the given Secret', () => {
    const cfg = sidecarConfig(objs);
    expect(cfg.http.adminEnabled).toBe(true);
    const ds = daemonSet(objs);
    const dir = mountPath(sidecarContainer(ds), 'admin-token');
    const secret = volume(ds, 'admin-token').secret!;
    expect(secret.secretName).toBe('talos-alert-sidecar-admin');
    expect(cfg.http.adminTokenFile).toBe(`${dir}/${secret.items![0]!.path}`);
  });

  it('reuses the Loki ruler ConfigMap as is, next to the extra rule files', () => {
    const ds = daemonSet(objs);
    const sources = volume(ds, 'rules').projected!.sources!.map((s) => s.configMap!.name);
    const own = findOne<IConfigMap>(objs, 'ConfigMap', '-rules');
    expect(sources).toEqual(['loki-alerting-rules', own.metadata!.name]);
    // The existing ConfigMap already has the seed rules: the chart does not add them twice.
    expect(Object.keys(own.data!)).toEqual(['extra.yaml']);
    expect((parseYaml(own.data!['extra.yaml']!) as { groups: unknown[] }).groups).toHaveLength(1);
  });

  it('keeps the spool and state on a hostPath owned by the sidecar user', () => {
    const ds = daemonSet(objs);
    const pod = ds.spec!.template.spec!;
    expect(volume(ds, 'data').hostPath).toEqual({ path: '/var/lib/talos-alert-sidecar', type: 'DirectoryOrCreate' });
    const [init] = pod.initContainers!;
    expect(init!.command).toEqual(['chown', `${pod.securityContext!.runAsUser}:${pod.securityContext!.runAsGroup}`, mountPath(sidecarContainer(ds), 'data')]);
    expect(init!.securityContext!.capabilities).toEqual({ drop: ['ALL'], add: ['CHOWN'] });
    expect(init!.securityContext!.allowPrivilegeEscalation).toBe(false);
  });

  it('pins the image by digest and applies the pod-level options', () => {
    const ds = daemonSet(objs);
    const pod = ds.spec!.template.spec!;
    const c = sidecarContainer(ds);
    expect(c.image).toMatch(/^registry\.example\.com\/talos-alert-sidecar@sha256:[a-f0-9]{64}$/);
    expect(c.args!.slice(3)).toEqual(['--log-level', 'debug']);
    expect(c.env).toContainEqual({ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(pod.affinity?.nodeAffinity).toBeDefined();
    expect(ds.spec!.template.metadata!.labels!.team).toBe('platform');
    expect(mountPath(c, 'loki-auth')).toBe('/etc/talos-alert-sidecar/loki-auth');
  });

  it('scrapes /metrics on the HTTP Service only, with the kube-prometheus-stack release label', () => {
    const sm = findOne<IServiceMonitor>(objs, 'ServiceMonitor');
    expect(sm.metadata!.labels!.release).toBe('kube-prometheus-stack');
    expect(sm.spec.endpoints![0]).toMatchObject({ port: 'http', path: '/metrics', interval: '15s' });
    const services = objs.filter((o) => o.kind === 'Service') as unknown as IService[];
    const selected = services.filter((s) => Object.entries(sm.spec.selector.matchLabels!).every(([k, v]) => s.metadata!.labels![k] === v));
    expect(selected).toHaveLength(1);
    expect(selected[0]!.spec!.ports!.map((p) => p.name)).toEqual(['http']);
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
    expect(http!.from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }]);
    expect(np.spec!.podSelector!.matchLabels).toEqual(daemonSet(objs).spec!.selector.matchLabels);
  });
});

describe('helm template, other branches', () => {
  it('UDP only: no TCP port anywhere, and the config agrees', () => {
    const objs = helmTemplate({ set: ['ingest.tcp=false', 'networkPolicy.enabled=true'] });
    const { cfg } = checkCommon(objs, { nodePort: 30600 });
    expect(cfg.ingest.tcp).toBe(false);
    expect(cfg.ingest.udp).toBe(true);
    const np = findOne<INetworkPolicy>(objs, 'NetworkPolicy');
    expect(np.spec!.ingress![0]!.ports).toEqual([{ protocol: 'UDP', port: 6000 }]);
    expect(np.spec!.ingress![0]!.from).toBeUndefined();
  });

  it('refuses to render with neither TCP nor UDP, or with no rules at all', () => {
    const noProto = tryTemplate({ set: ['ingest.tcp=false', 'ingest.udp=false'] });
    expect(noProto.status).not.toBe(0);
    expect(noProto.stderr).toContain('at least one of ingest.tcp and ingest.udp');
    const noRules = tryTemplate({ set: ['rules.defaultRules=false'] });
    expect(noRules.status).not.toBe(0);
    expect(noRules.stderr).toContain('nothing to load');
  });

  it('existing ConfigMap alone: mounted directly, no chart rules ConfigMap', () => {
    const objs = helmTemplate({ set: ['rules.existingConfigMap=loki-alerting-rules'] });
    checkCommon(objs, { nodePort: 30600 });
    expect(objs.some((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-rules'))).toBe(false);
    expect(volume(daemonSet(objs), 'rules').configMap?.name).toBe('loki-alerting-rules');
  });

  it('admin enabled without a Secret is refused', () => {
    const r = tryTemplate({ set: ['http.admin.enabled=true'] });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('http.admin.existingSecret is required');
  });

  it('no spool and no state: no data volume, and the config has neither', () => {
    const objs = helmTemplate({ set: ['loki.spool.enabled=false', 'state.enabled=false'] });
    const { cfg, ds } = checkCommon(objs, { nodePort: 30600 });
    expect(cfg.loki.spoolDir).toBe('');
    expect(cfg.state.file).toBe('');
    expect(ds.spec!.template.spec!.volumes!.some((v) => v.name === 'data')).toBe(false);
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
    const cfg = sidecarConfig(helmTemplate({ set: ['bindAddress=::'] }));
    expect(cfg.ingest.listen).toBe('[::]:6000');
    expect(parseHostPort(cfg.http.listen)).toEqual({ host: '::', port: 8080 });
  });
});
