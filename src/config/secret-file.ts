/**
 * Secrets held in files (`*_file` settings, the admin token): read once at
 * start, trimmed like Prometheus does (the trailing newline of `echo`), and
 * refused when unreadable or empty — an empty token file would otherwise
 * mean "no secret" without a word.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from './schema.js';

export function readSecretFile(path: string, key: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(key, `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const value = text.trim();
  if (value === '') throw new ConfigError(key, `${path} is empty`);
  return value;
}
