/**
 * `check [rules] PATH...` (`check rules` is the promtool spelling): validate rule files like `promtool check rules` (and
 * the Loki ruler's loader) would, without starting anything. Per file:
 *
 *   Checking rules/talos-kernel.yaml
 *     SUCCESS: 2 rules found
 *
 * or `  FAILED:` followed by one `file:line:col: group "g": rule "r": reason`
 * line per problem (on `err`). Rules that load but would never run here are
 * listed as `  WARNING: file:line: group "g": rule "r": …` lines: LogQL this
 * engine cannot run (unsupported; an error with `--strict` or
 * `--unsupported-rules error`, for CI linting) and rules whose stream
 * selectors can never match the labels this sidecar produces under the
 * config (`--config FILE`, else the defaults): not applicable, never an
 * error, as the Loki ruler runs them on other streams.
 * Exit code 0 when every file is valid, else 1.
 *
 * `check config FILE` is check-config.ts.
 */
import { loadConfig } from '../config/load.js';
import { defaultConfig } from '../config/schema.js';
import { talosLabelUniverse, type LabelUniverse } from '../rules/applicability.js';
import { listRuleFiles, loadRuleFile, type LoadOptions } from '../rules/load.js';
import type { SkippedRule } from '../rules/rule-file.js';

export interface CheckOptions {
  /** Default `skip`: unsupported rules are warnings. */
  unsupported?: LoadOptions['unsupported'];
  /** `--strict` (CI linting): unsupported rules are errors, as with `unsupported: 'error'`. Not-applicable rules stay warnings. */
  strict?: boolean;
  /** Labels the sidecar produces (default: those of the default config). */
  labels?: LabelUniverse;
}

/** The labels a config file's talos.* settings produce, for `check --config FILE`. */
export function labelsOfConfigFile(file: string): LabelUniverse {
  return talosLabelUniverse(loadConfig(new Map([['--config', [file]]])).talos);
}

function warning(s: SkippedRule): string {
  const where = `${s.file}${s.line > 0 ? `:${s.line}` : ''}: group ${JSON.stringify(s.group)}: rule ${JSON.stringify(s.rule)}`;
  if (s.cause === 'not_applicable') return `  WARNING: ${where}: not applicable here, skipped (label ${s.label ?? '?'}): ${s.reason}\n`;
  return `  WARNING: ${where}: unsupported, skipped: ${s.reason}\n`;
}

export async function runCheck(
  paths: readonly string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  opts: CheckOptions = {},
): Promise<number> {
  const unsupported = opts.strict === true ? 'error' : (opts.unsupported ?? 'skip');
  const loadOpts: LoadOptions = { unsupported, labels: opts.labels ?? talosLabelUniverse(defaultConfig().talos) };
  let failed = false;

  const listed = await listRuleFiles(paths);
  // Paths (or directory entries) that could not be read at all.
  const byPath = new Map<string, string[]>();
  for (const e of listed.errors) byPath.set(e.file, [...(byPath.get(e.file) ?? []), e.message]);
  for (const [path, messages] of byPath) {
    failed = true;
    out.write(`Checking ${path}\n`);
    err.write(`  FAILED:\n${messages.join('\n')}\n\n`);
  }

  if (listed.files.length === 0 && listed.errors.length === 0) {
    err.write(`no rule files found in ${paths.join(', ') || '(no paths given)'}\n`);
    return 1;
  }

  for (const file of listed.files) {
    out.write(`Checking ${file}\n`);
    const r = await loadRuleFile(file, loadOpts);
    if (r.errors.length > 0) {
      failed = true;
      err.write(`  FAILED:\n${r.errors.map((e) => e.message).join('\n')}\n\n`);
      continue;
    }
    const n = r.groups.reduce((sum, g) => sum + g.rules.length, 0);
    const count = (cause: SkippedRule['cause']): number => r.skipped.filter((s) => s.cause === cause).length;
    const skipped = [count('unsupported') > 0 ? `${count('unsupported')} unsupported` : '', count('not_applicable') > 0 ? `${count('not_applicable')} not applicable` : ''].filter(Boolean);
    out.write(`  SUCCESS: ${n} rules found${skipped.length > 0 ? `, skipped: ${skipped.join(', ')}` : ''}\n`);
    for (const s of r.skipped) out.write(warning(s));
    out.write('\n');
  }
  return failed ? 1 : 0;
}
