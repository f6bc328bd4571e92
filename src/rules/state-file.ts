/**
 * Restart-safe rule state: windows and alerts are written to a state file
 * (within a second of every alert state change — see StateSaver —,
 * periodically, and on SIGTERM) and restored at start, so a restart, even
 * after kill -9, neither resolves a firing alert nor re-fires it with a new
 * startsAt, and a `for` in progress continues. Written atomically and
 * durably (temp file, fsync, rename, fsync of the directory); a corrupt or
 * foreign file is reported and ignored, never fatal.
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Alert } from './alert.js';
import { validEvidence } from './evidence.js';

export const STATE_KIND = 'talos-alert-sidecar/rule-state';
export const STATE_VERSION = 1;

export interface RuleStateSnapshot {
  /** Identity of the rule definition; state is restored only into the identical rule. */
  identity: string;
  stepMs: number;
  lastT: number | null;
  series: SeriesState[];
  /** Range aggregations after the first (rules with several, issue #14), in expression order. */
  legs?: Array<{ stepMs: number; series: SeriesState[] }>;
  alerts: Alert[];
}

export interface SeriesState {
  key: string;
  labels: Record<string, string>;
  buckets: Array<[number, number, number]>;
}

export interface StateSnapshot {
  kind: typeof STATE_KIND;
  version: typeof STATE_VERSION;
  savedAtMs: number;
  rules: RuleStateSnapshot[];
}

export class StateFileError extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Structural check of a parsed snapshot; throws StateFileError saying what is wrong. */
export function validateSnapshot(doc: unknown): StateSnapshot {
  if (!isObject(doc) || doc.kind !== STATE_KIND) throw new StateFileError('not a talos-alert-sidecar state file');
  if (doc.version !== STATE_VERSION) throw new StateFileError(`unsupported state version ${String(doc.version)}`);
  if (typeof doc.savedAtMs !== 'number' || !Array.isArray(doc.rules)) throw new StateFileError('malformed state file');
  for (const r of doc.rules as unknown[]) {
    if (!isObject(r) || typeof r.identity !== 'string' || typeof r.stepMs !== 'number' || !Array.isArray(r.series) || !Array.isArray(r.alerts)) {
      throw new StateFileError('malformed rule entry in state file');
    }
    validateSeries(r.series as unknown[]);
    if (r.legs !== undefined) {
      if (!Array.isArray(r.legs)) throw new StateFileError('malformed legs in state file');
      for (const l of r.legs as unknown[]) {
        if (!isObject(l) || typeof l.stepMs !== 'number' || !Array.isArray(l.series)) throw new StateFileError('malformed leg in state file');
        validateSeries(l.series as unknown[]);
      }
    }
    for (const a of r.alerts as unknown[]) {
      if (!isObject(a) || !isObject(a.labels) || !isObject(a.annotations) || typeof a.state !== 'string' || typeof a.activeAtMs !== 'number') {
        throw new StateFileError('malformed alert in state file');
      }
      if (a.evidence !== undefined && !validEvidence(a.evidence)) throw new StateFileError('malformed alert evidence in state file'); // evidence (#18)
    }
  }
  return doc as unknown as StateSnapshot;
}

function validateSeries(series: unknown[]): void {
  for (const s of series) {
    if (!isObject(s) || typeof s.key !== 'string' || !isObject(s.labels) || !Array.isArray(s.buckets)) throw new StateFileError('malformed series in state file');
    for (const b of s.buckets as unknown[]) {
      if (!Array.isArray(b) || b.length !== 3 || !b.every((x) => typeof x === 'number' && Number.isFinite(x))) throw new StateFileError('malformed bucket in state file');
    }
  }
}

export async function readStateFile(path: string): Promise<StateSnapshot | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StateFileError(`cannot read ${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new StateFileError(`${path} is not valid JSON (torn or foreign file)`);
  }
  return validateSnapshot(doc);
}

export async function writeStateFile(path: string, snapshot: StateSnapshot): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(snapshot));
    // On disk before the rename names it: a power cut must not leave an empty file under the real name.
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  // rename is atomic: a crash leaves either the old or the new file, never half of one.
  await rename(tmp, path);
  // And the rename itself durable (the directory entry).
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await dir.close();
  }
}
