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

/** Loki's sanitizeLabelKey(key, true): trim, `_` before a leading digit, anything but [A-Za-z0-9_] → `_` per character. */
export function sanitizeLabelKey(key: string): string {
  const k = key.trim();
  if (k === '') return k;
  let out = k.charCodeAt(0) >= 0x30 && k.charCodeAt(0) <= 0x39 ? '_' : '';
  for (const ch of k) out += /^[A-Za-z0-9_]$/.test(ch) ? ch : '_';
  return out;
}

const VALID_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isValidLabelName(name: string): boolean {
  return VALID_LABEL.test(name);
}
