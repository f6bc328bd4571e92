/**
 * The send queue: one FIFO of encoded batches over two tiers, memory (the
 * normal case) and the disk spool (while Loki is unreachable). At most one
 * tier holds batches at a time: once anything is spooled, every newer batch
 * is spooled behind it until the spool drains, so order is kept across the
 * switch and across restarts.
 */
import type { EncodedBatch } from './encode.js';
import type { Spool, SpoolPosition } from './spool.js';

/** A batch handed to the sender; `pos` is set once it lives in the spool (acked by position). */
export interface QueuedBatch extends EncodedBatch {
  pos?: SpoolPosition;
}

export interface BatchQueueOptions {
  /** Memory for queued batches (encoded bytes); beyond it they are spooled, or without a spool the oldest dropped. */
  maxMemoryBytes: number;
  onDrop(lines: number, reason: 'buffer_full'): void;
  /** A batch became available (wakes the sender). */
  onPush(): void;
}

export class BatchQueue {
  /** FIFO as array + head index; slots before the head are cleared so their bodies can be collected. */
  private mem: (QueuedBatch | undefined)[] = [];
  private memHead = 0;
  private memBytes = 0;
  private spool: Spool | undefined;
  /** The batch the sender holds; never dropped from under it. */
  private inflight: QueuedBatch | undefined;

  constructor(private readonly opts: BatchQueueOptions) {}

  /** Attach the spool (at start). Anything it holds is older than what memory holds, so memory moves behind it. */
  attachSpool(spool: Spool): void {
    this.spool = spool;
    if (!spool.isEmpty) this.spill();
  }

  get memoryBytes(): number {
    return this.memBytes;
  }

  get memoryLength(): number {
    return this.mem.length - this.memHead;
  }

  /** True while batches live on disk (new ones are appended there too). */
  get spooling(): boolean {
    return this.spool !== undefined && !this.spool.isEmpty;
  }

  get hasSpool(): boolean {
    return this.spool !== undefined;
  }

  push(batch: EncodedBatch): void {
    if (this.spooling) {
      this.spool!.append(batch);
    } else {
      this.mem.push({ format: batch.format, body: batch.body, lines: batch.lines });
      this.memBytes += batch.body.length;
      if (this.memBytes > this.opts.maxMemoryBytes) {
        if (this.spool !== undefined) this.spill();
        else this.dropOldest();
      }
    }
    this.opts.onPush();
  }

  /** The oldest batch; undefined when there is none to send yet. */
  async head(): Promise<QueuedBatch | undefined> {
    let b: QueuedBatch | undefined;
    if (this.spooling) b = await this.spool!.peek();
    else b = this.mem[this.memHead];
    this.inflight = b;
    return b;
  }

  /** `batch` is done with (sent, rejected or given up): remove it wherever it now is. */
  ack(batch: QueuedBatch): void {
    if (this.inflight === batch) this.inflight = undefined;
    if (batch.pos !== undefined) {
      this.spool?.ack(batch.pos);
    } else if (this.mem[this.memHead] === batch) {
      this.shiftMem();
    }
  }

  /** Move every memory batch, oldest first, to the spool tail (Loki unreachable, or memory full). */
  spill(): void {
    const spool = this.spool;
    if (spool === undefined) return;
    for (let i = this.memHead; i < this.mem.length; i++) {
      const b = this.mem[i]!;
      // The in-flight batch keeps its identity: the sender acks it by its new position.
      b.pos = spool.append(b);
    }
    this.mem = [];
    this.memHead = 0;
    this.memBytes = 0;
  }

  /** Drop every batch still in memory (shutdown without a spool); returns the lines lost. */
  clearMemory(): number {
    let lines = 0;
    for (let i = this.memHead; i < this.mem.length; i++) lines += this.mem[i]!.lines;
    this.mem = [];
    this.memHead = 0;
    this.memBytes = 0;
    return lines;
  }

  private dropOldest(): void {
    // Never the batch being sent: dropping it would count its lines twice if the send then succeeds.
    const keep = this.inflight !== undefined && this.mem[this.memHead] === this.inflight;
    let i = keep ? this.memHead + 1 : this.memHead;
    while (this.memBytes > this.opts.maxMemoryBytes && i < this.mem.length) {
      const b = this.mem[i]!;
      this.mem[i] = undefined;
      this.memBytes -= b.body.length;
      this.opts.onDrop(b.lines, 'buffer_full');
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
  }

  private shiftMem(): void {
    const b = this.mem[this.memHead]!;
    this.mem[this.memHead] = undefined;
    this.memHead++;
    this.memBytes -= b.body.length;
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
