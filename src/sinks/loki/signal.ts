/**
 * A level-triggered wake-up for one waiter: notify() before wait() is not
 * lost. Lets the send loop sleep without polling and wake on new batches or
 * on stop.
 */
export class Signal {
  private notified = false;
  private waiter: (() => void) | undefined;

  notify(): void {
    this.notified = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  clear(): void {
    this.notified = false;
  }

  /** Resolves on the next notify() (at once if one came since the last clear), or after `timeoutMs`. */
  wait(timeoutMs?: number): Promise<void> {
    if (this.notified) {
      this.notified = false;
      return Promise.resolve();
    }
    this.waiter?.(); // one waiter at a time: release a previous one rather than strand it
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        if (this.waiter === done) this.waiter = undefined;
        this.notified = false;
        resolve();
      };
      this.waiter = done;
      if (timeoutMs !== undefined) timer = setTimeout(done, Math.max(0, timeoutMs));
    });
  }
}
