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
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startSidecar } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { parseHostPort } from '../../src/config/schema.js';
import { kernelRecord, sendLines, until } from '../helpers/sidecar.js';
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
  /** FROM flags, e.g. `--platform=$BUILDPLATFORM`. */
  flags: string[];
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
      const m = /^((?:--\S+\s+)*)(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args)!;
      st.push({ from: m[2]!, name: m[3] ?? String(st.length), flags: m[1]!.trim().split(/\s+/).filter(Boolean), body: [] });
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
    // dockerfilelint 1.8 predates `FROM --platform=…` and reads the flag as the image name
    // (then "missing tag"); it lints a copy without FROM flags, which are checked below.
    const dir = mkdtempSync(join(tmpdir(), 'tas-dockerfile-'));
    try {
      const copy = join(dir, 'Dockerfile');
      writeFileSync(copy, text.replace(/^FROM (?:--\S+\s+)+/gm, 'FROM '));
      const r = lint(copy);
      expect(r.issues).toEqual([]);
      expect(r.totalIssues).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
    const order = ['npm ci', 'npm run build', 'npm ci --omit=dev'].map((s) => runs.indexOf(s));
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
    expect(sources.sort()).toEqual(['deploy/config.default.yaml', 'package-lock.json', 'package.json', 'rules', 'src', 'tsconfig.json']);
    for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'src/cli.ts', 'src/app.ts', 'src/config/schema.ts', 'rules/talos-kernel.yaml', 'deploy/config.default.yaml']) {
      expect(existsSync(join(REPO_ROOT, f)), `${f} exists`).toBe(true);
      expect(included(f), `${f} in the build context`).toBe(true);
    }
  });

  it('keeps local build output, dependencies, caches, tests and the chart out', () => {
    for (const f of ['node_modules/yaml/package.json', 'dist/cli.js', '.git/HEAD', '.cache/helm/helm', 'test/chart/render.test.ts', 'chart/values.yaml', 'src/x/node_modules/y.js', 'deploy/other.yaml', '.github/workflows/release.yml']) {
      expect(included(f), f).toBe(false);
    }
  });
});

describe('multi-arch build and image metadata', () => {
  it('builds the JavaScript once on the build platform; the runtime stage is the target platform', () => {
    expect(build.flags).toEqual(['--platform=$BUILDPLATFORM']);
    expect(runtime.flags).toEqual([]);
    // Safe only because no dependency compiles native code for the build platform; prebuilt
    // native packages are chosen for the target by the production install's --cpu.
    expect(all(build, 'RUN').join(' ')).toMatch(/npm ci --omit=dev[^&]*--cpu=/);
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }> };
    const native = Object.entries(lock.packages).filter(([, p]) => p.dev !== true && p.hasInstallScript === true).map(([k]) => k);
    expect(native).toEqual([]);
  });

  it('carries OCI labels: source, version (from a build arg), licenses (the package licence)', () => {
    const labels = new Map<string, string>();
    for (const l of all(runtime, 'LABEL')) {
      for (const m of l.matchAll(/([a-z.]+)="((?:[^"\\]|\\.)*)"/g)) labels.set(m[1]!, m[2]!);
    }
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { license: string; version: string };
    expect(labels.get('org.opencontainers.image.source')).toBe('https://github.com/talos-alert-sidecar/talos-alert-sidecar');
    expect(labels.get('org.opencontainers.image.licenses')).toBe(pkg.license);
    expect(labels.get('org.opencontainers.image.version')).toBe('${VERSION}');
    expect(all(runtime, 'ARG')).toContain(`VERSION=${pkg.version}`);
    expect(labels.get('org.opencontainers.image.revision')).toBe('${REVISION}');
  });

  it('the published image name is the chart default and the Artifact Hub image', () => {
    const values = parseYaml(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as { image: { repository: string } };
    expect(values.image.repository).toBe('ghcr.io/talos-alert-sidecar/talos-alert-sidecar');
    const chart = parseYaml(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { appVersion: string; annotations: Record<string, string> };
    const images = parseYaml(chart.annotations['artifacthub.io/images']!) as { image: string }[];
    expect(images.map((i) => i.image)).toEqual([`${values.image.repository}:${chart.appVersion}`]);
  });
});

describe('the default config inside the image', () => {
  const DEFAULT = join(REPO_ROOT, 'deploy/config.default.yaml');
  const copy = all(runtime, 'COPY').find((c) => c.startsWith('deploy/config.default.yaml '));

  it('is copied to the path CMD runs with, and agrees with the image layout', () => {
    expect(copy).toBeDefined();
    const cmd = jsonForm(runtime, 'CMD');
    expect(copy!.split(/\s+/)[1]).toBe(cmd[cmd.indexOf('--config') + 1]);
    const cfg = loadConfig(new Map([['--config', [DEFAULT]]]));
    const workdir = all(runtime, 'WORKDIR').at(-1)!;
    const rulesCopy = all(runtime, 'COPY').find((c) => c.startsWith('rules '))!;
    expect(cfg.rules.paths).toEqual([join(workdir, rulesCopy.split(/\s+/)[1]!)]);
    const ports = all(runtime, 'EXPOSE').flatMap((e) => e.split(/\s+/));
    expect(ports).toContain(`${parseHostPort(cfg.ingest.listen).port}/tcp`);
    expect(ports).toContain(`${parseHostPort(cfg.ingest.listen).port}/udp`);
    expect(ports).toContain(String(parseHostPort(cfg.http.listen).port));
    expect(parseHostPort(cfg.ingest.listen).host).toBe('0.0.0.0'); // reachable through -p
    expect(cfg.alertmanager.urls).toEqual([]);
    expect(cfg.loki.url).toBe('');
    // Nothing written to disk: runs with a read-only root filesystem.
    expect(cfg.state.file).toBe('');
    expect(cfg.loki.spoolDir).toBe('');
  });

  it('runs as is: ready, and logs the alert a BTRFS line fires (no Alertmanager configured)', async () => {
    // The image's config with the image paths mapped onto this checkout and ephemeral ports
    // (tests never take fixed ports); everything else exactly as shipped.
    const dir = mkdtempSync(join(tmpdir(), 'tas-default-config-'));
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      readFileSync(DEFAULT, 'utf8')
        .replace(/^(\s*- )\/app\/rules$/m, `$1${join(REPO_ROOT, 'rules')}`)
        .replace(/^(\s*listen: )0\.0\.0\.0:(6000|8080)$/gm, '$1127.0.0.1:0'),
    );
    const cfg = loadConfig(new Map([['--config', [file]]]));
    cfg.rules.watch = false; // no file watcher left behind in the test process
    const sidecar = await startSidecar(cfg, { logger: pino({ level: cfg.log.level }, sink) });
    try {
      const ready = await fetch(`http://127.0.0.1:${sidecar.httpPort}/readyz`);
      expect(ready.status).toBe(200);
      await sendLines(sidecar.ingest.tcpPort, [kernelRecord('BTRFS error (device sdb state EA): parent transid verify failed on logical 1 mirror 1 wanted 2 found 1')]);
      const logged = await until(
        () => lines.find((l) => String(l.msg).startsWith('alert') && (l.labels as Record<string, string> | undefined)?.alertname === 'BTRFSCorruptionDetected'),
        (l) => l !== undefined,
      );
      expect(logged!.msg).toBe('alert (not sent: no alertmanager configured)');
      expect(lines.some((l) => l.msg === 'no alertmanager configured: alerts are logged, not sent')).toBe(true);
    } finally {
      await sidecar.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
