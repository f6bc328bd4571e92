/**
 * In-process fan-out from the sources to their subscribers (rule engine, Loki
 * pusher). Dispatch is synchronous: a subscriber must only do bounded work and
 * enqueue, never await; one that throws is counted and isolated so it cannot
 * stop the others or the source.
 */
import type { LogEvent } from './log-event.js';

export type LogEventHandler = (ev: LogEvent) => void;

export class EventBus {
  private handlers: LogEventHandler[] = [];
  /** Subscriber exceptions, by subscriber name. */
  readonly failures = new Map<string, number>();
  private names: string[] = [];
  published = 0;

  subscribe(name: string, handler: LogEventHandler): () => void {
    this.handlers = [...this.handlers, handler];
    this.names = [...this.names, name];
    return () => {
      const i = this.handlers.indexOf(handler);
      if (i >= 0) {
        this.handlers = this.handlers.filter((_, j) => j !== i);
        this.names = this.names.filter((_, j) => j !== i);
      }
    };
  }

  publish(ev: LogEvent): void {
    this.published++;
    const hs = this.handlers;
    for (let i = 0; i < hs.length; i++) {
      try {
        hs[i]!(ev);
      } catch {
        const n = this.names[i]!;
        this.failures.set(n, (this.failures.get(n) ?? 0) + 1);
      }
    }
  }
}
