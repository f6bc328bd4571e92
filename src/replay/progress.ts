/**
 * A one-line progress bar on a terminal: lines fetched and the part of the
 * time range covered. Silent when the stream is not a TTY (CI logs, pipes),
 * so `--output json 2>log` stays clean. Redraws at most every 100 ms.
 */
export interface ProgressSink {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

const REDRAW_MS = 100;

export class ProgressBar {
  private lines = 0;
  private coveredMs: number;
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly out: ProgressSink,
    private readonly fromMs: number,
    private readonly toMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.coveredMs = fromMs;
  }

  get enabled(): boolean {
    return this.out.isTTY === true;
  }

  fetched(n: number): void {
    this.lines += n;
    this.draw(false);
  }

  covered(toMs: number): void {
    this.coveredMs = toMs;
    this.draw(false);
  }

  /** Final state, then a newline so the next output starts clean. */
  done(): void {
    if (!this.enabled) return;
    this.draw(true);
    if (this.drawn) this.out.write('\n');
  }

  /** The bar's text (without the carriage return); exported for tests. */
  render(): string {
    const span = Math.max(1, this.toMs - this.fromMs);
    const frac = Math.min(1, Math.max(0, (this.coveredMs - this.fromMs) / span));
    const width = 24;
    const full = Math.round(frac * width);
    const at = new Date(this.coveredMs).toISOString().slice(0, 16).replace('T', ' ');
    return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.floor(frac * 100)).padStart(3)}%  up to ${at}Z  ${this.lines.toLocaleString('en-US')} lines fetched`;
  }

  private draw(force: boolean): void {
    if (!this.enabled) return;
    const t = this.now();
    if (!force && t - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = t;
    let text = this.render();
    const cols = this.out.columns ?? 80;
    if (text.length > cols - 1) text = text.slice(0, cols - 1);
    // \r then clear to end of line: a shorter redraw leaves no residue.
    this.out.write(`\r${text}\u001b[K`);
    this.drawn = true;
  }
}
