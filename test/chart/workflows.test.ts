/**
 * .github/workflows/*.yml cannot run here (no GitHub runner, no Docker), so they
 * are linted structurally, a small actionlint: YAML shape, job graph, pinned
 * actions, expression contexts and step references, no expressions inside
 * shell scripts, scripts that bash can parse, and the release job's contract
 * with the Dockerfile and the chart (image name, platforms, build args). The
 * version-check script is run for real.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CHART_DIR, REPO_ROOT } from '../helpers/helm.js';

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string | number | boolean>;
  env?: Record<string, string>;
}
interface Job {
  'runs-on': string;
  'timeout-minutes'?: number;
  needs?: string | string[];
  permissions?: Record<string, string>;
  env?: Record<string, string>;
  steps: Step[];
}
interface Workflow {
  name: string;
  on: { push?: { tags?: string[]; branches?: string[] }; pull_request?: unknown };
  permissions?: Record<string, string>;
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

const DIR = join(REPO_ROOT, '.github/workflows');
const FILES = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
const load = (f: string): Workflow => parseYaml(readFileSync(join(DIR, f), 'utf8')) as Workflow;
const release = load('release.yml');

const CONTEXTS = new Set(['github', 'env', 'secrets', 'steps', 'needs', 'matrix', 'runner', 'inputs', 'vars', 'job', 'strategy']);

function expressions(v: unknown): string[] {
  if (typeof v === 'string') return [...v.matchAll(/\$\{\{\s*(.*?)\s*\}\}/g)].map((m) => m[1]!);
  if (Array.isArray(v)) return v.flatMap(expressions);
  if (v !== null && typeof v === 'object') return Object.values(v).flatMap(expressions);
  return [];
}

function needsOf(j: Job): string[] {
  return j.needs === undefined ? [] : Array.isArray(j.needs) ? j.needs : [j.needs];
}

describe.each(FILES)('%s', (file) => {
  const wf = load(file);

  it('has the workflow shape: name, trigger, least-privilege permissions, jobs with steps', () => {
    expect(typeof wf.name).toBe('string');
    expect(wf.on).toBeDefined();
    expect(wf.permissions, 'workflow-level permissions set (default token otherwise broad)').toEqual({ contents: 'read' });
    expect(Object.keys(wf.jobs).length).toBeGreaterThan(0);
    for (const [name, job] of Object.entries(wf.jobs)) {
      expect(typeof job['runs-on'], `${name} runs-on`).toBe('string');
      expect(job['timeout-minutes'], `${name} timeout`).toBeGreaterThan(0);
      expect(job.steps.length, `${name} steps`).toBeGreaterThan(0);
      for (const need of needsOf(job)) expect(Object.keys(wf.jobs), `${name} needs ${need}`).toContain(need);
    }
  });

  it('has an acyclic job graph', () => {
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (j: string): void => {
      if (done.has(j)) return;
      expect(visiting.has(j), `cycle through ${j}`).toBe(false);
      visiting.add(j);
      for (const n of needsOf(wf.jobs[j]!)) visit(n);
      visiting.delete(j);
      done.add(j);
    };
    for (const j of Object.keys(wf.jobs)) visit(j);
  });

  it('steps: one of uses/run, actions pinned to a major version, unique ids', () => {
    for (const [name, job] of Object.entries(wf.jobs)) {
      const ids = job.steps.map((s) => s.id).filter((x): x is string => x !== undefined);
      expect(new Set(ids).size, `${name} step ids`).toBe(ids.length);
      for (const s of job.steps) {
        expect((s.uses === undefined) !== (s.run === undefined), `${name}: ${JSON.stringify(s).slice(0, 80)}`).toBe(true);
        if (s.uses !== undefined) expect(s.uses).toMatch(/^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@v\d+(\.\d+){0,2}$/);
      }
    }
  });

  it('expressions use known contexts, existing earlier steps and defined env; never inside scripts', () => {
    const workflowEnv = Object.keys(wf.env ?? {});
    for (const [name, job] of Object.entries(wf.jobs)) {
      const seen: string[] = [];
      for (const s of job.steps) {
        for (const e of expressions(s)) {
          const ctx = /^([a-z_]+)/.exec(e)?.[1] ?? '';
          expect(CONTEXTS.has(ctx), `${name}: \${{ ${e} }}`).toBe(true);
          const step = /^steps\.([\w-]+)\./.exec(e);
          if (step) expect(seen, `${name}: ${e} refers to an earlier step`).toContain(step[1]);
          const env = /^env\.(\w+)$/.exec(e);
          if (env) expect([...workflowEnv, ...Object.keys(job.env ?? {}), ...Object.keys(s.env ?? {})], `${name}: ${e}`).toContain(env[1]);
          const secret = /^secrets\.(\w+)$/.exec(e);
          if (secret) expect(secret[1]).toBe('GITHUB_TOKEN'); // the release needs no other secret
        }
        if (s.run !== undefined) expect(s.run, `${name}: expression in a script (use env)`).not.toContain('${{');
        if (s.id !== undefined) seen.push(s.id);
      }
    }
  });

  it('every run script parses with bash -n', () => {
    for (const job of Object.values(wf.jobs)) {
      for (const s of job.steps.filter((x) => x.run !== undefined)) {
        const r = spawnSync('bash', ['-n', '-c', s.run!], { encoding: 'utf8' });
        expect(r.status, `${s.name ?? s.run}\n${r.stderr}`).toBe(0);
      }
    }
  });
});

describe('release.yml', () => {
  const step = (job: string, uses: string): Step => {
    const hits = release.jobs[job]!.steps.filter((s) => s.uses?.startsWith(`${uses}@`));
    expect(hits, `${job}: ${uses}`).toHaveLength(1);
    return hits[0]!;
  };

  it('runs on version tags only, tests before it builds, builds before it publishes the chart', () => {
    expect(release.on).toEqual({ push: { tags: ['v*'] } });
    expect(needsOf(release.jobs.image!)).toEqual(['test']);
    expect(needsOf(release.jobs.chart!)).toEqual(['image']);
    const testRuns = release.jobs.test!.steps.map((s) => s.run ?? '');
    expect(testRuns).toContain('npm ci');
    expect(testRuns).toContain('npm test');
    expect(testRuns).toContain('node scripts/chart-docs.mjs --check');
  });

  it('builds and pushes the multi-arch image the chart deploys', () => {
    const values = parseYaml(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as { image: { repository: string } };
    expect(release.env!.IMAGE).toBe(values.image.repository);
    expect(release.jobs.image!.permissions).toMatchObject({ packages: 'write' });
    const order = ['docker/setup-qemu-action', 'docker/setup-buildx-action', 'docker/login-action', 'docker/metadata-action', 'docker/build-push-action'].map((u) =>
      release.jobs.image!.steps.indexOf(step('image', u)),
    );
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(step('image', 'docker/login-action').with).toMatchObject({ registry: 'ghcr.io', password: '${{ secrets.GITHUB_TOKEN }}' });
    expect(step('image', 'docker/metadata-action').with!.images).toBe('${{ env.IMAGE }}');
    const build = step('image', 'docker/build-push-action').with!;
    expect(String(build.platforms).split(',').sort()).toEqual(['linux/amd64', 'linux/arm64']);
    expect(build.push).toBe(true);
    expect(build.context).toBe('.');
    expect(existsSync(join(REPO_ROOT, String(build.file)))).toBe(true);
    // Every build arg is one the Dockerfile declares.
    const dockerfile = readFileSync(join(REPO_ROOT, String(build.file)), 'utf8');
    const args = String(build['build-args']).trim().split('\n').map((l) => l.split('=')[0]!.trim());
    expect(args.sort()).toEqual(['REVISION', 'VERSION']);
    for (const a of args) expect(dockerfile).toMatch(new RegExp(`^ARG ${a}(=|$)`, 'm'));
  });

  it('the version check passes when tag, package.json and chart appVersion agree, and fails otherwise', () => {
    const script = release.jobs.test!.steps.find((s) => s.name === 'Versions agree with the tag')!.run!;
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const chart = parseYaml(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    expect(chart.appVersion).toBe(pkg.version);
    const run = (tag: string): number | null =>
      spawnSync('bash', ['-eo', 'pipefail', '-c', script], { cwd: REPO_ROOT, env: { ...process.env, GITHUB_REF_NAME: tag }, encoding: 'utf8' }).status;
    expect(run(`v${pkg.version}`)).toBe(0);
    expect(run('v99.0.0')).toBe(1);
  });

  it('publishes the chart where the README says', () => {
    const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');
    expect(readme).toContain(release.env!.CHART_REPO!);
    expect(release.jobs.chart!.steps.some((s) => s.run?.includes('helm lint --strict chart/'))).toBe(true);
  });
});
