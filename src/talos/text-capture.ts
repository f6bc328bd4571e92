/**
 * `talosctl dmesg` and `talosctl logs SERVICE` text output → records
 * equivalent to what the json_lines streams carry, so `replay` can backtest
 * rules on a capture taken with `talosctl … > capture.txt`.
 *
 * Formats, as read from the Talos source:
 * - dmesg: machined formats each kmsg record as
 *   `fmt.Sprintf("%s: %7s: [%s]: %s", facility, priority, time.RFC3339Nano, message)`
 *   (message keeps kmsg's trailing newline and any `\n KEY=value` dictionary
 *   lines), and talosctl prints `"%s: %s"` with the node name/IP in front:
 *   `172.20.1.2: kern:    info: [2021-11-10T10:09:37.662764956Z]: Command line: …`
 * - logs: talosctl splits the service's raw log into lines and prints
 *   `"%s: %s\n"` (node, raw line). Raw lines are the service's own output:
 *   zap/klog/logrus JSON (etcd, kubelet, containerd), plain text (machined,
 *   apid), or — for `talosctl logs kernel` (Talos ≥ 1.13) —
 *   `time.Time.String() + ": " + facility + ": " + message`.
 * For service lines we apply Talos's own extraction (logging/extract.go):
 * `ts`/`time` → talos-time, `level` → talos-level (`warning` → `warn`),
 * `msg` (trimmed) appended to any text before the JSON, `err` appended as
 * `": " + err` raising the level to warn, other keys kept as fields.
 */
import type { GoJsonValue } from './go-json.js';
import {
  formatRecordMap, isKernelFacility, isKernelPriority, kernelPriorityLevel,
  type KernelFacility, type KernelPriority,
} from './format.js';
import { formatTalosTime, fromParts, parseTalosTime, type TalosTime } from './time.js';

export type CaptureFormat = 'json_lines' | 'dmesg' | 'logs';

export interface CaptureRecord {
  /** `talos-time`: RFC 3339, UTC, 0–9 fractional digits. */
  time: string;
  /** dmesg: the kmsg text without its trailing newline (dictionary lines joined with `\n`); logs: Talos's `msg`. */
  msg: string;
  /** `talos-level`. */
  level: string;
  /** dmesg only. */
  facility?: string;
  /** dmesg only. */
  priority?: string;
  /** logs only: `talos-service` (given by the caller, or `kernel` for `talosctl logs kernel`). */
  service?: string;
  /** The node prefix talosctl printed, if any. */
  node?: string;
  /** logs only: the service's own JSON fields that Talos forwards. */
  fields?: Record<string, GoJsonValue>;
  /** The line had no timestamp of its own; `time` is the previous record's. */
  timeInferred?: boolean;
  /** dmesg only: kmsg sequence number, synthesised per node (the text form drops it). */
  seq?: number;
  /** dmesg only: µs since the node's first record in the capture (the text form drops the real clock). */
  clock?: number;
}

export type CaptureLineResult =
  | { ok: true; record: CaptureRecord }
  | { ok: false; lineNo: number; reason: string };

export interface CaptureParseOptions {
  /** Force a format instead of recognising each line. */
  format?: 'dmesg' | 'logs';
  /** `talos-service` for logs captures (the SERVICE argument of `talosctl logs`). */
  service?: string;
  /** Time for leading lines that carry none (e.g. machined's plain lines); otherwise they are errors. */
  defaultTime?: TalosTime;
}

// node prefix (optional; may be an IPv6 address, so lazy up to the first ": " that fits).
const DMESG = /^(?:(.*?): )?(kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|local[0-7]): *(emerg|alert|crit|err|warning|notice|info|debug): \[([^\]]+)\]: (.*)$/;
const NODE_PREFIX = /^(\S*?): (.*)$/;
/** Go time.Time.String(): `2006-01-02 15:04:05.999999999 -0700 MST`, maybe with a monotonic ` m=+1.5` suffix. */
const GO_TIME_STRING_KERNEL = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))? ([+-]\d{4}) [A-Za-z0-9+-]+(?: m=[+-]\d+(?:\.\d+)?)?: ([a-z0-9]+): /;
const CRI = /^(\d{4}-\d{2}-\d{2}T\S+) (stdout|stderr) ([FP]) (.*)$/;
const GO_LOG = /^(?:\[talos\] )?(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))? /;
const DICT_CONTINUATION = /^ [A-Z][A-Z0-9_]*=/;
/** Starts like a dmesg line (node, facility, priority) even if the rest is broken. */
const DMESG_LIKE = /^(?:\S*?: )?(?:kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|local[0-7]): +(?:emerg|alert|crit|err|warning|notice|info|debug):/;
/** Talos treats float epochs above year 3000 in seconds as milliseconds. */
const MAX_EPOCH_SECONDS = Date.UTC(3000, 0, 1) / 1000;

const ZAP_LEVELS = new Set(['debug', 'info', 'warn', 'error', 'dpanic', 'panic', 'fatal']);
const LEVEL_RANK: Record<string, number> = { debug: -1, info: 0, warn: 1, error: 2, dpanic: 3, panic: 4, fatal: 5 };

function fail(lineNo: number, reason: string): CaptureLineResult {
  return { ok: false, lineNo, reason };
}

function parseDmesg(m: RegExpExecArray, lineNo: number): CaptureLineResult {
  const time = parseTalosTime(m[4]!);
  if (time === undefined) return fail(lineNo, `dmesg line: bad timestamp ${JSON.stringify(m[4])}`);
  const priority = m[3] as KernelPriority;
  const record: CaptureRecord = {
    time: formatTalosTime(time.ms, time.nsRem),
    msg: m[5]!,
    level: kernelPriorityLevel(priority),
    facility: m[2] as KernelFacility,
    priority,
  };
  if (m[1] !== undefined && m[1] !== '') record.node = m[1];
  return { ok: true, record };
}

function timeFromJsonValue(v: unknown): TalosTime | undefined {
  if (typeof v === 'string') return parseTalosTime(v);
  if (typeof v === 'number' && Number.isFinite(v)) {
    // Same as Talos: float seconds, or milliseconds when that would be past year 3000.
    const seconds = v > MAX_EPOCH_SECONDS ? v / 1000 : v;
    const whole = Math.trunc(seconds);
    const ns = Math.trunc((seconds - whole) * 1e9);
    const ms = whole * 1000 + Math.floor(ns / 1e6);
    return { ms, nsRem: ns - Math.floor(ns / 1e6) * 1e6 };
  }
  return undefined;
}

function tryJsonObject(text: string): Record<string, GoJsonValue> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, GoJsonValue>) : undefined;
  } catch {
    return undefined;
  }
}

/** Talos's parseLogLine on one raw service line: msg, level, fields, and the line's own time if any. */
function extractServiceLine(raw: string): { msg: string; level: string; fields?: Record<string, GoJsonValue>; time?: TalosTime } {
  let msg = '';
  let m = tryJsonObject(raw);
  if (m === undefined) {
    const brace = raw.indexOf('{');
    if (brace !== -1) {
      m = tryJsonObject(raw.slice(brace));
      if (m !== undefined) msg = raw.slice(0, brace).trim();
    }
  }
  if (m === undefined) return { msg: raw, level: 'info' };
  let level = 'info';
  let time: TalosTime | undefined;
  for (const k of ['time', 'ts']) {
    if (!(k in m)) continue;
    const t = timeFromJsonValue(m[k]);
    if (t !== undefined) {
      time = t;
      delete m[k];
      break;
    }
  }
  if (typeof m['level'] === 'string') {
    let l = m['level'].toLowerCase();
    if (l === 'warning') l = 'warn';
    if (ZAP_LEVELS.has(l)) {
      level = l;
      delete m['level'];
    }
  }
  if (typeof m['msg'] === 'string') {
    if (msg !== '') msg += ' ';
    msg += m['msg'].trim();
    delete m['msg'];
  }
  if (typeof m['err'] === 'string') {
    if (LEVEL_RANK[level]! < LEVEL_RANK['warn']!) level = 'warn';
    if (msg !== '') msg += ': ';
    msg += m['err'].trim();
    delete m['err'];
  }
  const out: { msg: string; level: string; fields?: Record<string, GoJsonValue>; time?: TalosTime } = { msg, level };
  if (Object.keys(m).length > 0) out.fields = m;
  if (time !== undefined) out.time = time;
  return out;
}

function parseLogsLine(line: string, lineNo: number, opts: CaptureParseOptions | undefined, lastTime: TalosTime | undefined): CaptureLineResult {
  const np = NODE_PREFIX.exec(line);
  if (np === null) return fail(lineNo, 'not a talosctl logs line (expected "<node>: <log line>")');
  const node = np[1]!;
  const raw = np[2]!;
  const record: CaptureRecord = { time: '', msg: '', level: 'info' };
  if (node !== '') record.node = node;
  if (opts?.service !== undefined) record.service = opts.service;
  let time: TalosTime | undefined;

  const kern = GO_TIME_STRING_KERNEL.exec(raw);
  const cri = kern === null ? CRI.exec(raw) : null;
  if (kern !== null) {
    // `talosctl logs kernel`: Talos forwards this whole line as the kernel service's msg.
    time = fromParts(kern[1]!, kern[2]!, kern[3]!, kern[4]!, kern[5]!, kern[6]!, kern[7], kern[8]!);
    if (time === undefined) return fail(lineNo, 'kernel log line: bad timestamp');
    record.msg = raw;
    record.service = opts?.service ?? 'kernel';
  } else if (cri !== null) {
    // `talosctl logs -k` (CRI container log): time, stream, tag, then the container's line.
    time = parseTalosTime(cri[1]!);
    if (time === undefined) return fail(lineNo, 'CRI log line: bad timestamp');
    const x = extractServiceLine(cri[4]!);
    record.msg = x.msg;
    record.level = x.level;
    if (x.fields !== undefined) record.fields = x.fields;
  } else {
    const x = extractServiceLine(raw);
    record.msg = x.msg;
    record.level = x.level;
    if (x.fields !== undefined) record.fields = x.fields;
    time = x.time;
    if (time === undefined) {
      const g = GO_LOG.exec(raw);
      if (g !== null) time = fromParts(g[1]!, g[2]!, g[3]!, g[4]!, g[5]!, g[6]!, g[7], 'Z');
    }
  }
  if (time === undefined) {
    const fallback = lastTime ?? opts?.defaultTime;
    if (fallback === undefined) return fail(lineNo, 'log line carries no timestamp and no earlier line did (pass a default time)');
    time = fallback;
    record.timeInferred = true;
  }
  record.time = formatTalosTime(time.ms, time.nsRem);
  return { ok: true, record };
}

/**
 * Parse one line of a `talosctl dmesg` or `talosctl logs` capture on its own
 * (lineNo is 1-based and only used in error results). Lines without a
 * timestamp fail here; use TextCaptureParser to inherit the previous line's.
 */
export function parseTextCaptureLine(line: string, lineNo: number, opts?: CaptureParseOptions): CaptureLineResult {
  return parseLine(line, lineNo, opts, undefined);
}

function parseLine(line: string, lineNo: number, opts: CaptureParseOptions | undefined, lastTime: TalosTime | undefined): CaptureLineResult {
  if (line.endsWith('\r')) line = line.slice(0, -1);
  if (line.trim() === '') return fail(lineNo, 'empty line');
  if (opts?.format !== 'logs') {
    if (DICT_CONTINUATION.test(line)) return fail(lineNo, 'kmsg dictionary line (" KEY=value") without the record it belongs to');
    const m = DMESG.exec(line);
    if (m !== null) return parseDmesg(m, lineNo);
    if (opts?.format === 'dmesg' || DMESG_LIKE.test(line)) return fail(lineNo, 'not a talosctl dmesg line (expected "<node>: <facility>: <priority>: [<RFC 3339 time>]: <message>")');
  }
  return parseLogsLine(line, lineNo, opts, lastTime);
}

/**
 * Stateful line-by-line parser for whole captures: joins kmsg dictionary
 * continuation lines to their record, lets plain service lines inherit the
 * previous timestamp, and numbers dmesg records per node (seq/clock).
 * Feed lines with push(); each call returns the results that are complete.
 */
export class TextCaptureParser {
  private lineNo = 0;
  private pending: CaptureRecord | undefined;
  private lastTime: TalosTime | undefined;
  private readonly perNode = new Map<string, { seq: number; first: TalosTime }>();

  private format: CaptureParseOptions;

  constructor(opts: CaptureParseOptions = {}) {
    this.format = opts;
  }

  push(line: string): CaptureLineResult[] {
    this.lineNo++;
    const out: CaptureLineResult[] = [];
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (this.pending !== undefined && this.pending.facility !== undefined && DICT_CONTINUATION.test(text)) {
      this.pending.msg += '\n' + text;
      return out;
    }
    this.flush(out);
    if (text.trim() === '') return out;
    const res = parseLine(text, this.lineNo, this.format, this.lastTime);
    if (!res.ok) {
      out.push(res);
      return out;
    }
    // A capture is one format: once a record is recognised, hold every later line to it.
    if (this.format.format === undefined) this.format = { ...this.format, format: res.record.facility !== undefined ? 'dmesg' : 'logs' };
    const t = parseTalosTime(res.record.time)!;
    this.lastTime = t;
    if (res.record.facility !== undefined) {
      const key = res.record.node ?? '';
      let n = this.perNode.get(key);
      if (n === undefined) {
        n = { seq: 0, first: t };
        this.perNode.set(key, n);
      }
      res.record.seq = n.seq++;
      res.record.clock = Math.max(0, Math.floor(((t.ms - n.first.ms) * 1e6 + (t.nsRem - n.first.nsRem)) / 1000));
    }
    this.pending = res.record;
    return out;
  }

  /** Call at end of input: returns the last held record, if any. */
  end(): CaptureLineResult[] {
    const out: CaptureLineResult[] = [];
    this.flush(out);
    return out;
  }

  private flush(out: CaptureLineResult[]): void {
    if (this.pending !== undefined) {
      out.push({ ok: true, record: this.pending });
      this.pending = undefined;
    }
  }
}

/** Parse a whole capture given as lines (a trailing empty line is ignored). */
export function* parseTextCapture(lines: Iterable<string>, opts?: CaptureParseOptions): Generator<CaptureLineResult> {
  const p = new TextCaptureParser(opts);
  for (const line of lines) yield* p.push(line);
  yield* p.end();
}

/**
 * The json_lines record Talos would have sent for this capture record:
 * dmesg records become kernel-stream records (seq/clock synthesised when the
 * parser did not number them), logs records become service-stream records.
 */
export function captureRecordToTalosJson(r: CaptureRecord): string {
  if (r.facility !== undefined && r.priority !== undefined) {
    if (!isKernelFacility(r.facility) || !isKernelPriority(r.priority)) throw new Error(`not a kernel facility/priority: ${r.facility}/${r.priority}`);
    return formatRecordMap({
      clock: r.clock ?? 0,
      facility: r.facility,
      msg: r.msg + '\n',
      priority: r.priority,
      seq: r.seq ?? 0,
      'talos-level': r.level,
      'talos-time': r.time,
    });
  }
  return formatRecordMap({
    ...r.fields,
    msg: r.msg,
    'talos-level': r.level,
    'talos-service': r.service ?? 'unknown',
    'talos-time': r.time,
  });
}

/**
 * Recognise a capture from its first lines: Talos json_lines (objects with
 * `talos-time`), `talosctl dmesg` text, or `talosctl logs` text (the
 * fallback, whose per-line errors then say what is wrong).
 */
export function detectCaptureFormat(firstLines: readonly string[]): CaptureFormat {
  let json = 0;
  let dmesg = 0;
  let logs = 0;
  for (const raw of firstLines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || DICT_CONTINUATION.test(line)) continue;
    if (line.startsWith('{')) {
      const o = tryJsonObject(line);
      if (o !== undefined && typeof o['talos-time'] === 'string') {
        json++;
        continue;
      }
    }
    if (DMESG.test(line)) dmesg++;
    else if (NODE_PREFIX.test(line)) logs++;
  }
  if (json > 0 && json >= dmesg && json >= logs) return 'json_lines';
  if (dmesg > 0 && dmesg >= logs) return 'dmesg';
  return 'logs';
}

/** Alias of captureRecordToTalosJson (the name replay imports). */
export const textRecordToJson = captureRecordToTalosJson;
