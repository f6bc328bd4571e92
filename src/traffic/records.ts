/**
 * Deterministic stream of Talos json_lines records from a simulated cluster:
 * a mix of kernel and service records from N nodes at a target rate, with
 * failures injected at chosen times. No I/O, no wall clock (unless the
 * caller passes one as startTimeMs), same seed → same bytes.
 *
 * Speed: every message variant is rendered once into the JSON text around
 * the parts that change per line (clock, seq, talos-time), so producing a
 * line is a few concatenations and a time format — no JSON.stringify.
 */
import {
  KERNEL_NORMAL, SERVICE_CATALOG, serviceWeights,
  type KernelMessage, type NodeContext, type ServiceMessage, type Weighted,
} from './catalog.js';
import { FAILURE_PERIOD_MS, SILENCE_DEFAULT_MS, failureMessages, isServiceFailureMessage, type FailureInjection } from './failures.js';
import { goJsonEscape } from '../talos/go-json.js';
import { Rng } from './rng.js';
import { formatServiceRecord, kernelPriorityLevel } from '../talos/format.js';
import { formatTalosTime } from '../talos/time.js';

export type { FailureInjection, FailureKind } from './failures.js';

export interface GeneratorOptions {
  /** Simulated Talos nodes (≥ 1). The first min(3, nodes) are control planes (they run etcd). */
  nodes: number;
  /** Records per second across all nodes (event time). */
  ratePerSec: number;
  /** Stop after this much event time. */
  durationMs?: number;
  /** Stop after this many records (failure bursts included). */
  maxLines?: number;
  /** Fraction of records on the kernel stream, 0..1 (default 0.3). */
  kernelShare?: number;
  /** PRNG seed (default 1). */
  seed?: number;
  failures?: FailureInjection[];
  /** Event time of the first record, epoch ms (default 2026-01-01T00:00:00Z, for determinism). */
  startTimeMs?: number;
  /** Pre-rendered variants per message template (default 24): more = more distinct lines, slower start. */
  variantsPerTemplate?: number;
}

export type TalosStreamKind = 'kernel' | 'service';

export interface GeneratedRecord {
  /** Node index, 0..nodes-1. */
  node: number;
  stream: TalosStreamKind;
  /** The record exactly as Talos writes it (no trailing newline). */
  json: string;
  /** Event time (epoch ms) the record carries, for pacing. */
  timeMs: number;
}

export const DEFAULT_START_TIME_MS = Date.UTC(2026, 0, 1);

/** Kernel variant: `{"clock":` + clock + mid + seq + tail + time + `"}`. */
interface KernelVariant {
  kernel: true;
  mid: string;
  tail: string;
}

/** Service variant: head + time + rest; `msPrecision` drops sub-ms digits like etcd's ts. */
interface ServiceVariant {
  kernel: false;
  head: string;
  rest: string;
  msPrecision: boolean;
}

type Variant = KernelVariant | ServiceVariant;

/**
 * Slots per node in the weighted lookup table: one random index picks both
 * the stream and the message (weights quantised to 1/TABLE_SIZE).
 */
const TABLE_SIZE = 2048;

/** Nodes with their own rendered messages; further nodes share a same-role node's (see records()). */
const DISTINCT_NODES = 64;
/** The first nodes are control planes (they run etcd and trustd). */
const CONTROL_PLANES = 3;

interface NodeState {
  ctx: NodeContext;
  /** Boot time relative to the start, in ns (negative: booted before the run). */
  bootRelNs: number;
  seq: number;
  table: Variant[];
  silentFromNs: number;
  silentUntilNs: number;
}

interface ScheduledFailure {
  atNs: number;
  untilNs: number;
  periodNs: number;
  injection: FailureInjection;
}

const TIME_SENTINEL = '\u0000T\u0000';

function renderKernelVariant(m: KernelMessage): KernelVariant {
  return {
    kernel: true,
    mid: `,"facility":"${m.facility}","msg":"${goJsonEscape(m.text)}\\n","priority":"${m.priority}","seq":`,
    tail: `,"talos-level":"${kernelPriorityLevel(m.priority)}","talos-time":"`,
  };
}

function renderServiceVariant(service: string, m: ServiceMessage): ServiceVariant {
  // Render once with a sentinel time, then split around it.
  const base: Parameters<typeof formatServiceRecord>[0] = { service, msg: m.msg, level: m.level, timeMs: 0, timeNsRem: 0 };
  if (m.fields !== undefined) base.fields = m.fields;
  const json = formatServiceRecord(base).replace('"talos-time":"1970-01-01T00:00:00Z"', `"talos-time":"${TIME_SENTINEL}"`);
  const at = json.indexOf(TIME_SENTINEL);
  return { kernel: false, head: json.slice(0, at), rest: json.slice(at + TIME_SENTINEL.length), msPrecision: m.timePrecision === 'ms' };
}

/** A template's rendered variants and the share of a node's lines it gets. */
interface WeightedVariants {
  share: number;
  variants: Variant[];
}

/** Spread the groups over TABLE_SIZE slots in proportion to their shares (largest remainder). */
function buildTable(groups: WeightedVariants[]): Variant[] {
  const total = groups.reduce((a, g) => a + g.share, 0);
  const exact = groups.map((g) => (g.share / total) * TABLE_SIZE);
  const counts = exact.map((x) => Math.floor(x));
  let left = TABLE_SIZE - counts.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  for (let j = 0; left > 0; j = (j + 1) % byRemainder.length, left--) counts[byRemainder[j]![1]]!++;
  const table: Variant[] = [];
  groups.forEach((g, i) => {
    for (let k = 0; k < counts[i]!; k++) table.push(g.variants[k % g.variants.length]!);
  });
  return table;
}

function renderVariants<T>(template: Weighted<T>, r: Rng, ctx: NodeContext, n: number, render: (m: T) => Variant): Variant[] {
  const out: Variant[] = [];
  for (let i = 0; i < n; i++) out.push(render(template.make(r, ctx)));
  return out;
}

function validate(opts: GeneratorOptions): void {
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1) throw new RangeError('nodes must be an integer ≥ 1');
  if (!(opts.ratePerSec > 0) || !Number.isFinite(opts.ratePerSec)) throw new RangeError('ratePerSec must be > 0');
  if (opts.kernelShare !== undefined && !(opts.kernelShare >= 0 && opts.kernelShare <= 1)) throw new RangeError('kernelShare must be in [0, 1]');
  if (opts.durationMs !== undefined && !(opts.durationMs >= 0)) throw new RangeError('durationMs must be ≥ 0');
  if (opts.maxLines !== undefined && !(Number.isInteger(opts.maxLines) && opts.maxLines >= 0)) throw new RangeError('maxLines must be an integer ≥ 0');
  for (const f of opts.failures ?? []) {
    const node = f.node ?? 0;
    if (!Number.isInteger(node) || node < 0 || node >= opts.nodes) throw new RangeError(`failure ${f.kind}: node ${node} out of range`);
    if (!(f.atMs >= 0)) throw new RangeError(`failure ${f.kind}: atMs must be ≥ 0`);
  }
}

/**
 * The records, lazily. Unbounded when neither durationMs nor maxLines is set
 * (the consumer decides when to stop pulling).
 */
export function* records(opts: GeneratorOptions): Generator<GeneratedRecord> {
  validate(opts);
  const r = new Rng(opts.seed ?? 1);
  const startMs = opts.startTimeMs ?? DEFAULT_START_TIME_MS;
  const kernelShare = opts.kernelShare ?? 0.3;
  const nVariants = opts.variantsPerTemplate ?? 24;
  const nServiceVariants = Math.max(2, nVariants >> 1);
  const maxLines = opts.maxLines ?? Number.POSITIVE_INFINITY;
  const endNs = opts.durationMs === undefined ? Number.POSITIVE_INFINITY : opts.durationMs * 1e6;
  const intervalNs = 1e9 / opts.ratePerSec;

  const nodes: NodeState[] = [];
  let kernelGroups: WeightedVariants[] = [];
  for (let i = 0; i < opts.nodes; i++) {
    const ctx: NodeContext = { index: i, hostname: i < CONTROL_PLANES ? `talos-cp-${i + 1}` : `talos-worker-${i - CONTROL_PLANES + 1}`, controlPlane: i < CONTROL_PLANES };
    if (i === 0) {
      // Kernel messages do not depend on the node: render once, share.
      const sum = KERNEL_NORMAL.reduce((a, t) => a + t.weight, 0);
      kernelGroups = KERNEL_NORMAL.map((t) => ({ share: (kernelShare * t.weight) / sum, variants: renderVariants(t, r, ctx, nVariants, renderKernelVariant) }));
    }
    // Large clusters: nodes past the first DISTINCT_NODES reuse a same-role node's messages
    // (only hostnames inside messages repeat) so start-up stays fast.
    const twin = i >= DISTINCT_NODES ? nodes[CONTROL_PLANES + ((i - CONTROL_PLANES) % (DISTINCT_NODES - CONTROL_PLANES))] : undefined;
    let table: Variant[];
    if (twin !== undefined) {
      table = twin.table;
    } else {
      // Each service gets its share of the node's service lines, split by template weight.
      const groups: WeightedVariants[] = kernelShare > 0 ? [...kernelGroups] : [];
      const weights = serviceWeights(ctx.controlPlane);
      const serviceTotal = Object.values(weights).reduce((a, b) => a + b, 0);
      if (kernelShare < 1) {
        for (const [service, weight] of Object.entries(weights)) {
          const templates = SERVICE_CATALOG[service]!;
          const sum = templates.reduce((a, t) => a + t.weight, 0);
          for (const t of templates) {
            const share = ((1 - kernelShare) * weight * t.weight) / (serviceTotal * sum);
            groups.push({ share, variants: renderVariants(t, r, ctx, nServiceVariants, (m) => renderServiceVariant(service, m)) });
          }
        }
      }
      table = buildTable(groups);
    }
    // Uptime between 10 minutes and 30 days, with sub-µs boot-time digits like real hosts.
    const uptimeNs = r.range(600, 30 * 86400) * 1e9 + r.int(1e9);
    nodes.push({ ctx, bootRelNs: -uptimeNs, seq: r.range(800, 5000), table, silentFromNs: 0, silentUntilNs: -1 });
  }

  const schedule: ScheduledFailure[] = (opts.failures ?? [])
    .map((f) => {
      const atNs = f.atMs * 1e6;
      const dur = f.durationMs ?? (f.kind === 'silence' ? SILENCE_DEFAULT_MS : 0);
      return { atNs, untilNs: atNs + dur * 1e6, periodNs: (FAILURE_PERIOD_MS[f.kind] ?? 0) * 1e6, injection: f };
    })
    .sort((a, b) => a.atNs - b.atNs);
  const failureRng = new Rng((opts.seed ?? 1) ^ 0x5bd1e995);

  let emitted = 0;
  for (let i = 0; ; i++) {
    const tNs = Math.floor(i * intervalNs + r.next() * intervalNs);
    if (tNs >= endNs || emitted >= maxLines) return;

    while (schedule.length > 0 && schedule[0]!.atNs <= tNs) {
      const due = schedule.shift()!;
      const node = nodes[due.injection.node ?? 0]!;
      if (due.injection.kind === 'silence') {
        node.silentFromNs = due.atNs;
        node.silentUntilNs = due.untilNs;
        continue;
      }
      // A burst: consecutive kmsg records a few hundred µs apart, stamped at the due time.
      let burstNs = due.atNs;
      for (const m of failureMessages(due.injection.kind, failureRng)) {
        if (emitted >= maxLines) return;
        burstNs += 137_000 + failureRng.int(400_000);
        const atNs = burstNs < tNs ? burstNs : tNs;
        if (isServiceFailureMessage(m)) {
          const ms = startMs + Math.floor(atNs / 1e6);
          const json = formatServiceRecord({ service: m.service, msg: m.msg, level: m.level, timeMs: ms, timeNsRem: atNs % 1e6 });
          yield { node: due.injection.node ?? 0, stream: 'service', json, timeMs: ms };
        } else {
          yield kernelRecord(node, renderKernelVariant(m), atNs, startMs, due.injection.node ?? 0);
        }
        emitted++;
      }
      if (due.periodNs > 0 && due.atNs + due.periodNs < due.untilNs) {
        due.atNs += due.periodNs;
        let j = 0;
        while (j < schedule.length && schedule[j]!.atNs <= due.atNs) j++;
        schedule.splice(j, 0, due);
      }
    }

    const nodeIndex = opts.nodes === 1 ? 0 : (r.next() * opts.nodes) | 0;
    const node = nodes[nodeIndex]!;
    if (tNs >= node.silentFromNs && tNs < node.silentUntilNs) continue;

    const v = node.table[(r.next() * TABLE_SIZE) | 0]!;
    if (v.kernel) {
      yield kernelRecord(node, v, tNs, startMs, nodeIndex);
    } else {
      const ms = startMs + Math.floor(tNs / 1e6);
      yield { node: nodeIndex, stream: 'service', json: v.head + formatTalosTime(ms, v.msPrecision ? 0 : tNs % 1e6) + v.rest, timeMs: ms };
    }
    emitted++;
  }
}

function kernelRecord(node: NodeState, v: KernelVariant, tNs: number, startMs: number, nodeIndex: number): GeneratedRecord {
  // kmsg stamps microseconds since boot; Talos adds them to its boot time estimate.
  const clockUs = Math.floor((tNs - node.bootRelNs) / 1000);
  const relNs = node.bootRelNs + clockUs * 1000;
  const relMs = Math.floor(relNs / 1e6);
  const ms = startMs + relMs;
  const json = `{"clock":${clockUs}${v.mid}${node.seq++}${v.tail}${formatTalosTime(ms, relNs - relMs * 1e6)}"}`;
  return { node: nodeIndex, stream: 'kernel', json, timeMs: ms };
}
