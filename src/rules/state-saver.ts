/**
 * When the state file is written: at most `delayMs` after any alert state
 * change (pending, firing, resolved, removed), every `intervalMs` (windows
 * move without state changes), and at stop. A kill -9 a second after an
 * alert fired therefore finds it in the file; with only the periodic write
 * (30 s) it was lost and Alertmanager later announced a false "resolved".
 * Writes never overlap: a change during a write schedules one more.
 */
import type { Logger } from 'pino';
import type { RuleEngine } from './engine.js';
import { writeStateFile } from './state-file.js';

export interface StateSaverOptions {
  file: string;
  /** Longest time from an alert state change to the write that records it. */
  delayMs: number;
  /** Periodic write, for the windows. */
  intervalMs: number;
  logger: Logger;
}

export class StateSaver {
  private changeTimer: NodeJS.Timeout | undefined;
  private periodic: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Completed writes (for tests and the log). */
  writes = 0;

  constructor(
    private readonly engine: RuleEngine,
    private readonly opts: StateSaverOptions,
  ) {}

  start(): void {
    this.unsubscribe = this.engine.onAlert(() => this.changed());
    this.periodic = setInterval(() => void this.save(), this.opts.intervalMs);
    this.periodic.unref();
  }

  /** An alert changed state: write within delayMs (not postponed by further changes). */
  private changed(): void {
    if (this.changeTimer !== undefined) return;
    this.changeTimer = setTimeout(() => {
      this.changeTimer = undefined;
      void this.save();
    }, this.opts.delayMs);
    this.changeTimer.unref();
  }

  /** Write now (or right after the write in progress); resolves when the file holds the state as of this call. */
  save(): Promise<void> {
    // At most one write waits behind the one in progress; its snapshot is taken when it starts.
    if (this.queued !== undefined) return this.queued;
    const next = this.chain.then(() => {
      this.queued = undefined;
      return this.writeOnce();
    });
    this.queued = next;
    this.chain = next;
    return next;
  }

  private async writeOnce(): Promise<void> {
    try {
      await writeStateFile(this.opts.file, this.engine.snapshot());
      this.writes++;
    } catch (e) {
      this.opts.logger.error({ err: (e as Error).message, file: this.opts.file }, 'could not write the state file');
    }
  }

  /** Stop the timers and write once more (call after the engine stopped). */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.changeTimer !== undefined) clearTimeout(this.changeTimer);
    if (this.periodic !== undefined) clearInterval(this.periodic);
    this.changeTimer = undefined;
    await this.save();
  }
}
