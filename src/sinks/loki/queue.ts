/**
 * The in-memory FIFO of encoded batches waiting for the sender. Bounded by
 * encoded plus source bytes: past the bound the owner decides (with a
 * write-ahead log the backlog is dropped from memory and re-read from the
 * log later; without one the oldest batches are dropped, counted). The
 * batch the sender holds is never dropped from under it.
 */
import type { EncodedBatch } from './encode.js';
import type { OpenBatch } from './batch.js';
import type { WalPos } from './wal.js';

/** A batch on its way to Loki. */
export interface QueuedBatch extends EncodedBatch {
  /** The events, by stream: what a partial refusal is resent from. */
  readonly source: OpenBatch;
  /** Acknowledging this batch acknowledges the write-ahead log up to here (undefined without a log). */
  readonly walEnd: WalPos | undefined;
  /** A stream set aside for a per-stream limit: its acknowledgement does not move the log position. */
  readonly aside: boolean;
  /** Resends after partial refusals so far (bounded). */
  readonly resends: number;
}

export interface BatchQueueOptions {
  maxMemoryBytes: number;
  /** Memory is over the bound after a push. */
  onOverflow(): void;
  /** A batch became available (wakes the sender). */
  onPush(): void;
}

export function batchMemory(b: QueuedBatch): number {
  return b.body.length + b.source.bytes;
}

export class BatchQueue {
  /** FIFO as array + head index; slots before the head are cleared so their bodies can be collected. */
  private mem: (QueuedBatch | undefined)[] = [];
  private memHead = 0;
  private memBytes = 0;
  /** The batch the sender holds (taken with head(), not yet acked). */
  private inflight: QueuedBatch | undefined;

  constructor(private readonly opts: BatchQueueOptions) {}

  get memoryBytes(): number {
    return this.memBytes;
  }

  get length(): number {
    return this.mem.length - this.memHead;
  }

  push(batch: QueuedBatch): void {
    this.mem.push(batch);
    this.memBytes += batchMemory(batch);
    if (this.memBytes > this.opts.maxMemoryBytes) this.opts.onOverflow();
    this.opts.onPush();
  }

  /** The oldest batch (it stays queued until acked); undefined when empty. */
  head(): QueuedBatch | undefined {
    const b = this.mem[this.memHead];
    this.inflight = b;
    return b;
  }

  /** The sender is done with `batch` (sent, refused or given up). */
  ack(batch: QueuedBatch): void {
    if (this.inflight === batch) this.inflight = undefined;
    if (this.mem[this.memHead] === batch) this.shift();
  }

  /**
   * Remove queued batches, oldest first, until memory is within `keepBytes`
   * (0: all), never the one in flight. Returns the batches removed.
   */
  dropOldest(keepBytes: number): QueuedBatch[] {
    const removed: QueuedBatch[] = [];
    const keep = this.inflight !== undefined && this.mem[this.memHead] === this.inflight;
    let i = keep ? this.memHead + 1 : this.memHead;
    while (this.memBytes > keepBytes && i < this.mem.length) {
      const b = this.mem[i]!;
      this.mem[i] = undefined;
      this.memBytes -= batchMemory(b);
      removed.push(b);
      i++;
    }
    if (keep) {
      // Move the in-flight batch up to just before the survivors: O(1), order kept.
      const head = this.mem[this.memHead];
      this.mem[this.memHead] = undefined;
      this.mem[i - 1] = head;
      this.memHead = i - 1;
    } else {
      this.memHead = i;
    }
    this.compact();
    return removed;
  }

  private shift(): void {
    const b = this.mem[this.memHead]!;
    this.mem[this.memHead] = undefined;
    this.memHead++;
    this.memBytes -= batchMemory(b);
    this.compact();
  }

  /** Reclaim the cleared slots in front once they are the larger part. */
  private compact(): void {
    if (this.memHead === this.mem.length) {
      this.mem = [];
      this.memHead = 0;
    } else if (this.memHead > 1024 && this.memHead * 2 > this.mem.length) {
      this.mem = this.mem.slice(this.memHead);
      this.memHead = 0;
    }
  }
}
