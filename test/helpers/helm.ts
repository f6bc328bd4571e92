/**
 * Helm for tests: every call goes through scripts/helm.sh, which uses a helm on
 * PATH or fetches Helm 3 once into .cache/helm (see the script). Rendering
 * returns parsed manifests; validation uses the offline Kubernetes schemas of
 * `kubernetes-models` and `@kubernetes-models/prometheus-operator`, made strict
 * (unknown fields rejected) by strict-fields.ts.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { DaemonSet, StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Pod, Service, ServiceAccount } from 'kubernetes-models/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { validateStrict, type ValidatingModel } from './strict-fields.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHART_DIR = join(REPO_ROOT, 'chart');
export const HELM_SCRIPT = join(REPO_ROOT, 'scripts/helm.sh');
export const FULL_VALUES = join(CHART_DIR, 'ci/full-values.yaml');
export const CLUSTER_VALUES = join(CHART_DIR, 'ci/cluster-values.yaml');

export interface HelmResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run helm with `args`; never throws on a non-zero exit (callers assert on it). */
export function runHelm(args: readonly string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): HelmResult {
  const r = spawnSync('bash', [HELM_SCRIPT, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface RenderOptions {
  /** `-f` files, in order. */
  valuesFiles?: readonly string[];
  /** `--set k=v` entries. */
  set?: readonly string[];
  /** `--set-json k=json` entries. */
  setJson?: readonly string[];
  release?: string;
  namespace?: string;
  /** Chart directory (default: the project's chart/). */
  chartDir?: string;
  /** `--show-only` template paths. */
  showOnly?: readonly string[];
}

function templateArgs(o: RenderOptions): string[] {
  const args = ['template', o.release ?? 'tas', o.chartDir ?? CHART_DIR, '--namespace', o.namespace ?? 'monitoring'];
  for (const f of o.valuesFiles ?? []) args.push('-f', f);
  for (const s of o.set ?? []) args.push('--set', s);
  for (const s of o.setJson ?? []) args.push('--set-json', s);
  for (const s of o.showOnly ?? []) args.push('--show-only', s);
  return args;
}

/** `helm template` → result, for tests that expect a failure. */
export function tryTemplate(o: RenderOptions = {}): HelmResult {
  return runHelm(templateArgs(o));
}

/** `helm template` → parsed manifests; throws with helm's stderr on failure. */
export function helmTemplate(o: RenderOptions = {}): K8sObject[] {
  const r = tryTemplate(o);
  if (r.status !== 0) throw new Error(`helm template failed (${r.status}):\n${r.stderr}`);
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(r.stdout)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]!.message}`);
    const obj = doc.toJS() as K8sObject | null;
    if (obj !== null) out.push(obj);
  }
  return out;
}

/** The one object of `kind` whose name ends with `nameSuffix` (throws when not exactly one). */
export function findOne<T = K8sObject>(objs: readonly K8sObject[], kind: string, nameSuffix = ''): T {
  const hits = objs.filter((o) => o.kind === kind && o.metadata.name.endsWith(nameSuffix));
  if (hits.length !== 1) {
    throw new Error(`expected one ${kind} named *${nameSuffix}, found ${hits.map((h) => h.metadata.name).join(', ') || 'none'}`);
  }
  return hits[0] as T;
}

const MODELS: Record<string, ValidatingModel> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Pod': Pod,
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/StatefulSet': StatefulSet,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

/**
 * Validate one manifest against its Kubernetes (or prometheus-operator) JSON
 * schema, strictly: a field the schema does not define (a misspelt key) fails
 * as the API server's strict field validation would. Throws for kinds the chart
 * is not expected to render, so a new kind cannot slip through unvalidated.
 */
export function validateManifest(obj: K8sObject): void {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
  if (Model === undefined) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind} (add it to MODELS)`);
  try {
    validateStrict(Model, obj);
  } catch (e) {
    throw new Error(`${obj.kind}/${obj.metadata.name}: ${(e as Error).message}`);
  }
}

/**
 * Render templates/NOTES.txt as `helm install` would (same engine, values and
 * helpers) without a cluster: a throwaway copy of the chart gets one extra
 * template that runs the notes through `tpl`.
 */
export function renderNotes(o: RenderOptions = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'tas-chart-'));
  try {
    const chart = join(dir, 'chart');
    cpSync(o.chartDir ?? CHART_DIR, chart, { recursive: true });
    writeFileSync(join(chart, 'notes-under-test.txt'), readFileSync(join(chart, 'templates/NOTES.txt')));
    writeFileSync(
      join(chart, 'templates/zz-notes-under-test.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n    {{- tpl (.Files.Get "notes-under-test.txt") . | nindent 4 }}\n',
    );
    const [cm] = helmTemplate({ ...o, chartDir: chart, showOnly: ['templates/zz-notes-under-test.yaml'] });
    return (cm as unknown as { data: { notes: string } }).data.notes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
