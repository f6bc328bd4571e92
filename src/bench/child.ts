/**
 * Benchmark helper processes (senders, the Loki sink, the latency probe) run
 * as forked children so they never share the measured process's core. This
 * is the parent's side: send commands, wait (bounded) for typed events.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ChildEvent {
  ev: string;
}

export class BenchChild<Cmd extends object, Ev extends ChildEvent> {
  private readonly proc: ChildProcess;
  private readonly inbox: Ev[] = [];
  private waiters: Array<() => void> = [];
  private exited = false;
  private stderr = '';

  constructor(script: string, args: string[] = []) {
    const path = fileURLToPath(new URL(script, import.meta.url));
    this.proc = fork(path, args, { stdio: ['ignore', 'inherit', 'pipe', 'ipc'], execArgv: [] });
    this.proc.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.proc.on('message', (m) => {
      this.inbox.push(m as Ev);
      this.wake();
    });
    this.proc.on('exit', () => {
      this.exited = true;
      this.wake();
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(cmd: Cmd): void {
    this.proc.send(cmd);
  }

  /** The next event named `name` (earlier events of other names are kept for later waits). */
  async next<N extends Ev['ev']>(name: N, timeoutMs: number): Promise<Extract<Ev, { ev: N }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((e) => e.ev === name);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as Extract<Ev, { ev: N }>;
      if (this.exited) throw new Error(`bench child exited before "${name}"${this.stderr ? `: ${this.stderr}` : ''}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`bench child: no "${name}" within ${timeoutMs} ms${this.stderr ? `: ${this.stderr}` : ''}`);
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Ask politely (disconnect), then SIGKILL after a bound. */
  async stop(boundMs = 3000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    if (this.proc.connected) this.proc.disconnect();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), boundMs);
    await gone;
    clearTimeout(timer);
  }
}

/** The child's side: typed messages to the parent; exit when the parent goes away. */
export function childChannel<Cmd, Ev extends ChildEvent>(onCommand: (cmd: Cmd) => void | Promise<void>): (ev: Ev) => void {
  process.on('message', (m) => {
    Promise.resolve(onCommand(m as Cmd)).catch((err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
  });
  process.on('disconnect', () => process.exit(0));
  return (ev) => process.send?.(ev);
}
