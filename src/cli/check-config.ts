/**
 * `check config FILE`: validate a config file the way `run --config FILE`
 * loads it (YAML, every key known, values in range, cross-field rules,
 * secret files readable), like `amtool check-config`, without starting anything.
 *
 *   Checking deploy/config.yaml
 *     SUCCESS
 *
 * or `  FAILED: config: KEY: reason` on `err`. Exit 0 when valid, else 1.
 */
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/schema.js';

export function checkConfig(file: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  out.write(`Checking ${file}\n`);
  try {
    loadConfig(new Map([['--config', [file]]]));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    err.write(`  FAILED: ${e.message}\n\n`);
    return 1;
  }
  out.write('  SUCCESS\n\n');
  return 0;
}
