/**
 * The two record shapes Talos writes on its json_lines streams, encoded
 * byte-for-byte as Talos does (a Go map marshalled with encoding/json: keys
 * sorted, HTML characters escaped). See /work/shared/spec/talos-json-lines.md.
 */
import { goJsonEscape, goJsonMarshal, goKeyCompare, type GoJsonValue } from './go-json.js';
import { formatTalosTime } from './time.js';

/** syslog facilities as go-kmsg names them. */
export const KERNEL_FACILITIES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;
export type KernelFacility = (typeof KERNEL_FACILITIES)[number];

export const KERNEL_PRIORITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
export type KernelPriority = (typeof KERNEL_PRIORITIES)[number];

export type TalosLevel = 'debug' | 'info' | 'warn' | 'error';

/** Talos's kmsgPriorityToLevel: emerg/alert/crit/err → error, warning → warn, notice/info → info. */
export function kernelPriorityLevel(p: KernelPriority): TalosLevel {
  switch (p) {
    case 'warning': return 'warn';
    case 'notice':
    case 'info': return 'info';
    case 'debug': return 'debug';
    default: return 'error';
  }
}

export function isKernelFacility(s: string): s is KernelFacility {
  return (KERNEL_FACILITIES as readonly string[]).includes(s);
}

export function isKernelPriority(s: string): s is KernelPriority {
  return (KERNEL_PRIORITIES as readonly string[]).includes(s);
}

/** One /dev/kmsg record as the kernel stream carries it. */
export interface KernelRecord {
  /** Microseconds since boot. */
  clock: number;
  facility: KernelFacility;
  /**
   * The message without its trailing newline (the formatter adds the `\n`
   * Talos keeps). Dictionary lines, if any, follow as `\n KEY=value`.
   */
  text: string;
  priority: KernelPriority;
  /** kmsg sequence number. */
  seq: number;
  /** `talos-time`: boot time + clock. */
  timeMs: number;
  timeNsRem: number;
}

/** `{"clock":…,"facility":…,"msg":"…\n","priority":…,"seq":…,"talos-level":…,"talos-time":…}` */
export function formatKernelRecord(r: KernelRecord): string {
  return (
    `{"clock":${r.clock},"facility":"${r.facility}","msg":"${goJsonEscape(r.text)}\\n",` +
    `"priority":"${r.priority}","seq":${r.seq},"talos-level":"${kernelPriorityLevel(r.priority)}",` +
    `"talos-time":"${formatTalosTime(r.timeMs, r.timeNsRem)}"}`
  );
}

/** One line of a service's log as the service stream carries it. */
export interface ServiceRecord {
  /** `talos-service` (kubelet, etcd, machined, …). */
  service: string;
  msg: string;
  level: TalosLevel;
  timeMs: number;
  timeNsRem: number;
  /** Fields of the service's own JSON log line (what Talos keeps after taking ts/level/msg/err). */
  fields?: Readonly<Record<string, GoJsonValue>>;
  /** Destination `extraTags`: added last, so they overwrite any other key. */
  extraTags?: Readonly<Record<string, string>>;
}

/** Encode a service record; keys sorted like Go's map marshalling. */
export function formatServiceRecord(r: ServiceRecord): string {
  const time = formatTalosTime(r.timeMs, r.timeNsRem);
  if (r.fields === undefined && r.extraTags === undefined) {
    return (
      `{"msg":"${goJsonEscape(r.msg)}","talos-level":"${r.level}",` +
      `"talos-service":"${goJsonEscape(r.service)}","talos-time":"${time}"}`
    );
  }
  // Same precedence as Talos: fields, then msg/time/level/service, then extraTags.
  const m: Record<string, GoJsonValue> = { ...r.fields };
  m['msg'] = r.msg;
  m['talos-level'] = r.level;
  m['talos-service'] = r.service;
  m['talos-time'] = time;
  if (r.extraTags !== undefined) Object.assign(m, r.extraTags);
  return goJsonMarshal(m);
}

/** Encode any flat record map (keys sorted, Go escaping); used for captures and odd shapes. */
export function formatRecordMap(m: Readonly<Record<string, GoJsonValue>>): string {
  return goJsonMarshal(m as Record<string, GoJsonValue>);
}

/** Sort keys the way the wire has them (exported for tests that check order). */
export function sortedKeys(keys: Iterable<string>): string[] {
  return [...keys].sort(goKeyCompare);
}
