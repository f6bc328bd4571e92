/**
 * `check config FILE`: validate a config file the way `run --config FILE`
 * loads it, like `amtool check-config`, without starting anything
 * (src/config/check.ts: every section, ${VAR} references, cross-field rules,
 * the files it names).
 *
 *   Checking deploy/config.yaml
 *     SUCCESS
 *
 * or one `  FAILED: config: KEY: reason` line per problem on `err`. Exit 0 when valid, else 1.
 */
import { checkConfigFile } from '../config/check.js';

export function checkConfig(file: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  out.write(`Checking ${file}\n`);
  const r = checkConfigFile(file);
  if (r.ok) {
    out.write('  SUCCESS\n\n');
    return 0;
  }
  err.write(`${r.errors.map((e) => `  FAILED: ${e}\n`).join('')}\n`);
  return 1;
}
