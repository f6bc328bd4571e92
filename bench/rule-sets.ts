/**
 * Rule sets for the benchmarks: the seed's two rules (rules/talos-kernel.yaml),
 * and larger sets built the way a real library grows: the seed, then the
 * shipped kernel rule library (rules/library/storage.yaml and node.yaml), then
 * rules generated from real kernel error phrases in four shapes — literal
 * `|=`, case-insensitive `|~ "(?i)…"`, alternation `|~ "a|b"`, and the seed's
 * `(?i)(x|y).*(error|failed|…)` form. Half of the generated rules select every
 * line (`{job="talos-kernel"}`, like the seed), half the kernel stream only,
 * so service lines cannot skip them all at the label stage.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { loadRuleSet, parseRuleFile } from '../src/rules/load.js';
import type { RuleSet } from '../src/rules/rule-file.js';
import { KERNEL_ERROR_PHRASES } from './kernel-phrases.js';

/** The repository root (dist-tools/bench → ../..), so the bench runs from any working directory. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SEED_RULES = `${REPO_ROOT}rules/talos-kernel.yaml`;
const LIBRARY_RULES = [`${REPO_ROOT}rules/library/storage.yaml`, `${REPO_ROOT}rules/library/node.yaml`];

export function seedRules(): Promise<RuleSet> {
  return loadRuleSet([SEED_RULES], { unsupported: 'error' });
}

/** RE2 metacharacters escaped, so a phrase matches itself literally inside a regex. */
function reEscape(s: string): string {
  return s.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

/** A LogQL double-quoted string literal. */
function logqlString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The line filter of generated rule j (distinct for j < 4 × phrases). */
function generatedFilter(j: number): string {
  const P = KERNEL_ERROR_PHRASES;
  const form = j % 4;
  const phrase = P[(Math.floor(j / 4) + form * 19) % P.length]!;
  switch (form) {
    case 0:
      return `|= ${logqlString(phrase)}`;
    case 1:
      return `|~ ${logqlString(`(?i)${reEscape(phrase)}`)}`;
    case 2: {
      const other = P[(Math.floor(j / 4) + form * 19 + 7) % P.length]!;
      return `|~ ${logqlString(`${reEscape(phrase)}|${reEscape(other)}`)}`;
    }
    default: {
      // The seed's shape: two word alternations with anything between.
      const words = phrase.split(/[^A-Za-z]+/).filter((w) => w.length >= 4);
      const first = words[0] ?? 'kernel';
      const second = words[1] ?? 'error';
      return `|~ ${logqlString(`(?i)(${reEscape(first)}|${reEscape(second)}).*(error|failed|timeout|lost)`)}`;
    }
  }
}

function generatedRulesYaml(count: number): string {
  const rules = [];
  for (let j = 0; j < count; j++) {
    const selector = j % 2 === 0 ? '{job="talos-kernel"}' : '{job="talos-kernel", talos_service="kernel"}';
    const by = j % 3 === 0 ? 'sum' : 'sum by (host)';
    rules.push({
      alert: `KernelPhrase${String(j).padStart(3, '0')}`,
      expr: `${by} (count_over_time(${selector} ${generatedFilter(j)} [5m])) > 0`,
      for: j % 5 === 0 ? '1m' : '0m',
      labels: { severity: j % 2 === 0 ? 'warning' : 'critical' },
      annotations: { summary: `kernel phrase rule ${j}: {{ $value }} line(s) on {{ $labels.host }}` },
    });
  }
  return stringify({ groups: [{ name: 'bench-generated', rules }] });
}

function merge(sets: RuleSet[]): RuleSet {
  return { groups: sets.flatMap((s) => s.groups), skipped: sets.flatMap((s) => s.skipped), files: sets.flatMap((s) => s.files) };
}

function countRules(set: RuleSet): number {
  return set.groups.reduce((n, g) => n + g.rules.length, 0);
}

/** Exactly `n` rules: the seed, then the library, then generated phrase rules. */
export async function scaledRules(n: number): Promise<RuleSet> {
  const seed = await seedRules();
  if (n <= countRules(seed)) return truncate(seed, n);
  const withLibrary = merge([seed, await loadRuleSet(LIBRARY_RULES, { unsupported: 'error' })]);
  if (n <= countRules(withLibrary)) return truncate(withLibrary, n);
  const extra = n - countRules(withLibrary);
  const file = `bench-generated-${extra}.yaml`;
  const parsed = parseRuleFile(file, generatedRulesYaml(extra), { unsupported: 'error' });
  if (parsed.errors.length > 0) throw new Error(`generated rules do not load: ${parsed.errors.map((e) => e.message).join('; ')}`);
  const set = merge([withLibrary, { groups: parsed.groups, skipped: parsed.skipped, files: [file] }]);
  if (countRules(set) !== n) throw new Error(`expected ${n} rules, built ${countRules(set)}`);
  return set;
}

/**
 * The same rules as scaledRules(n), as files for `node dist/cli.js run --rules …`:
 * the seed and library files as shipped, the generated rules written into `dir`.
 */
export async function scaledRuleFiles(n: number, dir: string): Promise<string[]> {
  const fixed = [SEED_RULES, ...LIBRARY_RULES];
  const fixedCount = countRules(await loadRuleSet(fixed, { unsupported: 'error' }));
  if (n < fixedCount) throw new Error(`scaledRuleFiles: at least ${fixedCount} rules (seed + library)`);
  if (n === fixedCount) return fixed;
  const file = join(dir, `bench-generated-${n - fixedCount}.yaml`);
  writeFileSync(file, generatedRulesYaml(n - fixedCount));
  return [...fixed, file];
}

function truncate(set: RuleSet, n: number): RuleSet {
  const groups = [];
  let left = n;
  for (const g of set.groups) {
    if (left <= 0) break;
    const rules = g.rules.slice(0, left);
    left -= rules.length;
    groups.push({ ...g, rules });
  }
  return { ...set, groups };
}

/** The seed's rules with the BTRFS rule grouped by host, so every failing node is its own alert (latency scenario). */
export async function perHostSeedRules(): Promise<RuleSet> {
  const text = stringify({
    groups: [
      {
        name: 'talos-kernel-per-host',
        rules: [
          {
            alert: 'BTRFSCorruptionDetected',
            expr: 'sum by (host) (count_over_time({job="talos-kernel"} |= "parent transid verify failed" [5m])) > 0',
            for: '0m',
            labels: { severity: 'critical' },
            annotations: { summary: 'BTRFS corruption on {{ $labels.host }}' },
          },
          {
            alert: 'ISCSIKernelError',
            expr: 'sum(count_over_time({job="talos-kernel"} |~ "(?i)(iscsid|iscsi).*(error|failed|timeout|lost)" [5m])) > 0',
            for: '2m',
            labels: { severity: 'warning' },
            annotations: { summary: 'iSCSI session errors in Talos kernel logs' },
          },
        ],
      },
    ],
  });
  const parsed = parseRuleFile('bench-per-host.yaml', text, { unsupported: 'error' });
  if (parsed.errors.length > 0) throw new Error(parsed.errors.map((e) => e.message).join('; '));
  return { groups: parsed.groups, skipped: parsed.skipped, files: ['bench-per-host.yaml'] };
}

/**
 * The seed rules plus two LogQL pipelines as real rule files write them (issue #13's
 * bench scenario): a `| json | level="error"` count and a `| logfmt | unwrap` quantile.
 */
export const PIPELINE_RULES = `groups:
  - name: pipelines
    rules:
      - alert: ServiceJsonErrors
        expr: sum by (talos_service) (count_over_time({job="talos-kernel"} |= "error" | json | __error__="" | level="error" [5m])) > 0
      - alert: SlowContainerdOps
        expr: quantile_over_time(0.99, {job="talos-kernel", talos_service=~"containerd|cri"} | logfmt | unwrap duration(took) | __error__="" [5m]) by (host) > 1
`;

export async function pipelineRules(): Promise<RuleSet> {
  const dir = mkdtempSync(join(tmpdir(), 'tas-bench-pipeline-'));
  writeFileSync(join(dir, 'pipelines.yaml'), PIPELINE_RULES);
  return loadRuleSet([SEED_RULES, join(dir, 'pipelines.yaml')], { unsupported: 'error' });
}
