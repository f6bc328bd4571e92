/**
 * The Dockerfile, checked without a Docker engine (there is none here):
 * dockerfilelint finds nothing, the stages do what the issue asks, the build
 * context (.dockerignore) holds what the COPY lines need, and the image's
 * entry point, user and ports agree with the Helm chart.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { IDaemonSet } from 'kubernetes-models/apps/v1';
import { CHART_DIR, REPO_ROOT, findOne, helmTemplate } from '../helpers/helm.js';

const DOCKERFILE = join(REPO_ROOT, 'Dockerfile');
const LINTER = join(REPO_ROOT, 'node_modules/.bin/dockerfilelint');

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string;
  body: Instruction[];
}

/** Instructions of a Dockerfile: comments dropped, `\` continuations joined. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (cur === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // comment inside a continuation
    cur += (cur ? ' ' : '') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) continue;
    const m = /^(\S+)\s*(.*)$/.exec(cur)!;
    out.push({ op: m[1]!.toUpperCase(), args: m[2]! });
    cur = '';
  }
  return out;
}

function stages(ins: Instruction[]): { args: Instruction[]; stages: Stage[] } {
  const args: Instruction[] = [];
  const st: Stage[] = [];
  for (const i of ins) {
    if (i.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args)!;
      st.push({ from: m[1]!, name: m[2] ?? String(st.length), body: [] });
    } else if (st.length === 0) {
      args.push(i);
    } else {
      st[st.length - 1]!.body.push(i);
    }
  }
  return { args, stages: st };
}

const text = readFileSync(DOCKERFILE, 'utf8');
const parsed = stages(instructions(text));
const build = parsed.stages[0]!;
const runtime = parsed.stages[parsed.stages.length - 1]!;
const all = (s: Stage, op: string): string[] => s.body.filter((i) => i.op === op).map((i) => i.args);
const jsonForm = (s: Stage, op: string): string[] => {
  const v = all(s, op);
  expect(v, op).toHaveLength(1);
  return JSON.parse(v[0]!) as string[]; // exec form only: a shell form would not parse
};

function lint(file: string): { totalIssues: number; issues: { title: string }[] } {
  const r = spawnSync(LINTER, ['-j', file], { encoding: 'utf8', timeout: 60_000 });
  const report = JSON.parse(r.stdout) as { totalIssues: number; files: { issues: { title: string }[] }[] };
  return { totalIssues: report.totalIssues, issues: report.files.flatMap((f) => f.issues) };
}

describe('dockerfilelint', () => {
  it('reports no issue for the Dockerfile', () => {
    const r = lint(DOCKERFILE);
    expect(r.issues).toEqual([]);
    expect(r.totalIssues).toBe(0);
  });

  it('does flag a careless Dockerfile (so the clean result means something)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-dockerfile-'));
    try {
      const bad = join(dir, 'Dockerfile');
      writeFileSync(bad, 'FROM node\nRUN apt-get install curl\nADD . /app\nEXPOSE 6000/sctp\n');
      expect(lint(bad).totalIssues).toBeGreaterThanOrEqual(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Dockerfile stages', () => {
  it('builds on the current even-numbered (LTS) Node line, slim', () => {
    const arg = parsed.args.find((a) => a.op === 'ARG' && a.args.startsWith('NODE_VERSION='));
    const major = Number(arg?.args.split('=')[1]);
    expect(major % 2, 'LTS lines are even').toBe(0);
    expect(major).toBeGreaterThanOrEqual(24);
    for (const s of parsed.stages) expect(s.from).toBe('node:${NODE_VERSION}-trixie-slim');
  });

  it('build stage: all dependencies from the lockfile, compile, then production dependencies only', () => {
    expect(parsed.stages.length).toBeGreaterThanOrEqual(2);
    const runs = all(build, 'RUN').join(' && ');
    expect(runs).toMatch(/\bnpm ci\b(?![^&]*--omit=dev)/); // dev dependencies (typescript) for the build
    const order = ['npm ci', 'npm run build', 'npm prune --omit=dev'].map((s) => runs.indexOf(s));
    for (const i of order) expect(i).toBeGreaterThanOrEqual(0);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('runtime stage: production mode, non-root, only built artefacts from the build stage', () => {
    expect(all(runtime, 'ENV')).toContain('NODE_ENV=production');
    const copies = all(runtime, 'COPY');
    const fromBuild = copies.filter((c) => c.startsWith(`--from=${build.name} `));
    expect(fromBuild.map((c) => c.split(/\s+/)[1])).toEqual(['/app/package.json', '/app/node_modules', '/app/dist']);
    expect(all(runtime, 'RUN').join(' ')).not.toMatch(/npm (ci|install)/);
    const user = all(runtime, 'USER');
    expect(user).toHaveLength(1);
    expect(user[0]).toMatch(/^[1-9]\d*(:\d+)?$/); // numeric, so runAsNonRoot can be verified
  });

  it('exposes the ingest port on TCP and UDP and the HTTP port', () => {
    const ports = all(runtime, 'EXPOSE').flatMap((e) => e.split(/\s+/));
    expect(ports.sort()).toEqual(['6000/tcp', '6000/udp', '8080']);
  });

  it('runs node directly (PID 1, exec form) with the config path the chart mounts', () => {
    expect(jsonForm(runtime, 'ENTRYPOINT')).toEqual(['node', 'dist/cli.js']);
    const cmd = jsonForm(runtime, 'CMD');
    const ds = findOne<IDaemonSet>(helmTemplate(), 'DaemonSet');
    const c = ds.spec!.template.spec!.containers[0]!;
    expect(c.command).toBeUndefined(); // the chart keeps the ENTRYPOINT
    expect(c.args).toEqual(cmd);
    // The image's user is the chart's user; its ports are the chart's ports.
    const [uid, gid] = all(runtime, 'USER')[0]!.split(':').map(Number);
    const pod = ds.spec!.template.spec!.securityContext!;
    expect(pod.runAsUser).toBe(uid);
    if (gid !== undefined) expect(pod.runAsGroup).toBe(gid);
    const values = parseYaml(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as { ingest: { port: number }; http: { port: number } };
    expect(all(runtime, 'EXPOSE').join(' ')).toContain(`${values.ingest.port}/udp`);
    expect(all(runtime, 'EXPOSE').join(' ')).toContain(String(values.http.port));
  });

  it("the entry point exists after the build (tsc: src/cli.ts → dist/cli.js) and handles SIGTERM itself", () => {
    const tsconfig = JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: { rootDir: string; outDir: string } };
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(existsSync(join(REPO_ROOT, 'src/cli.ts'))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: { build: string } };
    expect(Object.values(pkg.bin)).toContain('dist/cli.js');
    expect(pkg.scripts.build).toMatch(/^tsc\b/);
    // As PID 1, node gets no default SIGTERM action from the kernel: the app must install a handler.
    const sources = ['src/cli.ts', 'src/cli/run.ts'].filter((f) => existsSync(join(REPO_ROOT, f))).map((f) => readFileSync(join(REPO_ROOT, f), 'utf8'));
    expect(sources.some((s) => /process\.(on|once)\(\s*['"]SIGTERM['"]/.test(s))).toBe(true);
  });
});

describe('.dockerignore', () => {
  /** Docker's rule: the last pattern matching the path or one of its parents decides; `!` re-includes. */
  function included(path: string): boolean {
    const patterns = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    const toRe = (p: string): RegExp =>
      new RegExp(
        `^${p
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*\//g, '\u0000')
          .replace(/\*\*/g, '.*')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]')
          .replace(/\u0000/g, '(?:.*/)?')}$`,
      );
    const parts = path.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let keep = true;
    for (const raw of patterns) {
      const negate = raw.startsWith('!');
      const re = toRe(negate ? raw.slice(1) : raw);
      if (candidates.some((c) => re.test(c))) keep = negate;
    }
    return keep;
  }

  it('sends what the COPY lines need', () => {
    const sources = parsed.stages
      .flatMap((s) => all(s, 'COPY'))
      .filter((c) => !c.startsWith('--from='))
      .flatMap((c) => c.split(/\s+/).slice(0, -1));
    expect(sources.sort()).toEqual(['package-lock.json', 'package.json', 'rules', 'src', 'tsconfig.json']);
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'src/cli.ts', 'src/app.ts', 'src/config/schema.ts', 'rules/talos-kernel.yaml']) {
      expect(existsSync(join(REPO_ROOT, f)), `${f} exists`).toBe(true);
      expect(included(f), `${f} in the build context`).toBe(true);
    }
  });

  it('keeps local build output, dependencies, caches, tests and the chart out', () => {
    for (const f of ['node_modules/yaml/package.json', 'dist/cli.js', '.git/HEAD', '.cache/helm/helm', 'test/chart/render.test.ts', 'chart/values.yaml', 'src/x/node_modules/y.js']) {
      expect(included(f), f).toBe(false);
    }
  });
});
