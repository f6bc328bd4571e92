/**
 * One step of a LogQL log pipeline (Loki's log.Stage): takes the line and
 * its labels, may change both, and keeps or drops the line.
 */
import type { LabelsBuilder } from './labels-builder.js';

export interface LineContext {
  /** Event time: whole milliseconds and the sub-millisecond remainder in ns. */
  timeMs: number;
  timeNsRem: number;
}

export interface Stage {
  /** The (possibly rewritten) line, or undefined to drop it. */
  process(line: string, labels: LabelsBuilder, ctx: LineContext): string | undefined;
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NOT_LABEL_CHAR = /[^A-Za-z0-9_]/gu;
const sanitized = new Map<string, string>();
/** Like Loki's internedStringSet: keys come from a small vocabulary; the bound guards against hostile input. */
const MAX_SANITIZED = 4096;

/** Loki's sanitizeLabelKey(key, true): trim, `_` before a leading digit, anything but [A-Za-z0-9_] → `_` per character. */
export function sanitizeLabelKey(key: string): string {
  if (PLAIN_KEY.test(key)) return key;
  let out = sanitized.get(key);
  if (out !== undefined) return out;
  const k = key.trim();
  out = k === '' ? '' : (k.charCodeAt(0) >= 0x30 && k.charCodeAt(0) <= 0x39 ? '_' : '') + k.replace(NOT_LABEL_CHAR, '_');
  if (sanitized.size < MAX_SANITIZED) sanitized.set(key, out);
  return out;
}

const VALID_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isValidLabelName(name: string): boolean {
  return VALID_LABEL.test(name);
}
