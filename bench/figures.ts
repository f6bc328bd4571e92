/** What a benchmark part reports, and how run.ts prints it. */

export interface Target {
  cmp: '>=' | '<=' | '<';
  value: number;
}

export interface Figure {
  scenario: number;
  label: string;
  value: number;
  unit: string;
  target?: Target;
  /** How it was measured, spread, side figures. */
  note?: string;
}

export function meets(value: number, t: Target): boolean {
  return t.cmp === '>=' ? value >= t.value : t.cmp === '<=' ? value <= t.value : value < t.value;
}

/** 1234567 → "1 234 567"; small values keep a few significant digits. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(s.length, rank) - 1]!;
}

export function rangeNote(xs: readonly number[], unit: string): string {
  return `median of ${xs.length} rounds, range ${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))} ${unit}`;
}
