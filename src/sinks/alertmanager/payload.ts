/**
 * Alertmanager v2 `PostableAlert` as Prometheus's notifier and Loki's ruler
 * (`SendAlerts`) build it.
 */

export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** RFC 3339 UTC with milliseconds. */
  startsAt: string;
  endsAt: string;
  /** Omitted when no external URL is configured. */
  generatorURL?: string;
}

/** RFC 3339 in UTC with millisecond precision, e.g. `2024-05-01T12:00:00.123Z`. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

/** Alert labels plus external labels the alert does not already carry (the alert wins). */
export function withExternalLabels(
  labels: Readonly<Record<string, string>>,
  external: Readonly<Record<string, string>>,
  externalNames: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = { ...labels };
  for (const n of externalNames) if (!(n in out)) out[n] = external[n]!;
  return out;
}

/**
 * Prometheus `ValidUntil`: a firing alert is declared valid for four resend
 * periods (or evaluation intervals, whichever is longer), so Alertmanager keeps
 * it through three missed resends but times it out if we disappear.
 */
export function firingEndsAt(nowMs: number, tickMs: number, resendDelayMs: number): number {
  return nowMs + 4 * Math.max(tickMs, resendDelayMs);
}
