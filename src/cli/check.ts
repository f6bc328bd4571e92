/**
 * `check PATH...`: validate rule files like `promtool check rules` (and the
 * Loki ruler's loader) would, without starting anything. Per file:
 *
 *   Checking rules/talos-kernel.yaml
 *     SUCCESS: 2 rules found
 *
 * or `  FAILED:` followed by one `file:line:col: group "g": rule "r": reason`
 * line per problem (on `err`). Exit code 0 when every file is valid, else 1.
 */
import { listRuleFiles, loadRuleFile, type LoadOptions } from '../rules/load.js';

export interface CheckOptions {
  unsupported?: LoadOptions['unsupported'];
  /** Warnings fail the check too (exit 1); today the warnings are skipped (unsupported) rules. */
  strict?: boolean;
}

export async function runCheck(
  paths: readonly string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  opts: CheckOptions = {},
): Promise<number> {
  const loadOpts: LoadOptions = { unsupported: opts.unsupported ?? 'error' };
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
    const skipped = r.skipped.length > 0 ? `, ${r.skipped.length} skipped (unsupported)` : '';
    out.write(`  SUCCESS: ${n} rules found${skipped}\n`);
    for (const s of r.skipped) out.write(`  SKIPPED: group ${JSON.stringify(s.group)}: rule ${JSON.stringify(s.rule)}: ${s.reason}\n`);
    if (opts.strict === true && r.skipped.length > 0) {
      failed = true;
      err.write(`  FAILED (--strict): ${r.skipped.length} rule(s) skipped\n`);
    }
    out.write('\n');
  }
  return failed ? 1 : 0;
}
