/**
 * process.hrtime in ms. On Linux it is CLOCK_MONOTONIC, one clock for every
 * process on the machine, so timestamps taken in the probe process and in
 * the sidecar's process can be compared directly.
 */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
