/** The Go values an alert template works with: data, labels maps, numbers, strings, and their Go type names. */

/** Go `map[string]string` (labels, external labels). */
export class GoMap {
  constructor(readonly entries: Readonly<Record<string, string>>) {}
  get(key: string): string {
    // missingkey=zero: a missing key reads as "" (the zero string).
    return Object.prototype.hasOwnProperty.call(this.entries, key) ? this.entries[key]! : '';
  }
  sortedKeys(): string[] {
    return Object.keys(this.entries).sort(compareBytes);
  }
}

/** The data Prometheus hands an alert template (`.Labels`, `.Value`, …). */
export class AlertData {
  constructor(
    readonly Labels: GoMap,
    readonly ExternalLabels: GoMap,
    readonly ExternalURL: string,
    readonly Value: number,
    /** `$lines`: the alert's evidence lines as text (sidecar extension, issue #18; not a struct field). */
    readonly Lines = '',
  ) {}
}

export const ALERT_DATA_TYPE =
  'struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }';
export const ALERT_DATA_FIELDS = ['Labels', 'ExternalLabels', 'ExternalURL', 'Value'] as const;

/**
 * A Go value: string, float64 (number), int (bigint), bool, map[string]string,
 * the alert data struct, or nil (null).
 */
export type GoValue = string | number | bigint | boolean | GoMap | AlertData | GoTime | null;

/** Go `time.Time` (LogQL line_format's `__timestamp__`), in UTC: whole ms since the epoch plus the ns remainder. */
export class GoTime {
  constructor(
    readonly ms: number,
    readonly nsRem: number,
  ) {}
}

export function goTypeName(v: GoValue): string {
  if (v === null) return 'nil';
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'number':
      return 'float64';
    case 'bigint':
      return 'int';
    case 'boolean':
      return 'bool';
  }
  if (v instanceof GoTime) return 'time.Time';
  return v instanceof GoMap ? 'map[string]string' : ALERT_DATA_TYPE;
}

/** Go compares strings bytewise (UTF-8), which is code point order. */
export function compareBytes(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

