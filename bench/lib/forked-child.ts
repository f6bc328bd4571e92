/**
 * Forked helper processes for benchmarks, the soak and hostile-peer tests
 * (traffic senders, the Loki sink, the latency probe, attackers): they run in
 * their own process so they never share the measured process's core.
 * Parent side: send typed commands, wait — always bounded — for typed events;
 * an `error` event from the child, or its exit, fails the wait at once.
 * Child side: childChannel().
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ChildEvent {
  ev: string;
}

export class ForkedChild<Cmd extends object, Ev extends ChildEvent> {
  private readonly proc: ChildProcess;
  private readonly inbox: Ev[] = [];
  private wake: () => void = () => undefined;
  private stderr = '';
  private exit: string | undefined;

  constructor(script: string | URL, args: readonly string[] = []) {
    const scriptPath = typeof script === 'string' ? script : fileURLToPath(script);
    // execArgv []: never inherit a test runner's or profiler's flags.
    this.proc = fork(scriptPath, [...args], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'], execArgv: [] });
    this.proc.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.proc.on('message', (m) => {
      this.inbox.push(m as Ev);
      this.wake();
    });
    this.proc.on('exit', (code, signal) => {
      this.exit = `exit code ${code ?? '-'} signal ${signal ?? '-'}`;
      this.wake();
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  send(cmd: Cmd): void {
    if (this.proc.connected) this.proc.send(cmd);
  }

  /** The next event named `ev` (earlier events of other names stay queued). */
  async next<K extends Ev['ev']>(ev: K, timeoutMs: number): Promise<Extract<Ev, { ev: K }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.ev === ev || m.ev === 'error');
      if (i >= 0) {
        const m = this.inbox.splice(i, 1)[0]!;
        if (m.ev === 'error') throw new Error(`${this.describe()} failed: ${(m as unknown as { message?: string }).message ?? JSON.stringify(m)}`);
        return m as Extract<Ev, { ev: K }>;
      }
      if (this.exit !== undefined) throw new Error(`${this.describe()} exited (${this.exit}) before '${ev}'; stderr: ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`${this.describe()}: no '${ev}' within ${timeoutMs} ms; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(100, Math.max(1, deadline - Date.now())));
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Ask politely (disconnect: children exit when the parent goes away), then SIGKILL after a bound. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.exit !== undefined) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    if (this.proc.connected) this.proc.disconnect();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
  }

  kill(): void {
    if (this.exit === undefined) this.proc.kill('SIGKILL');
  }

  private describe(): string {
    return `child ${this.proc.spawnfile} ${this.proc.spawnargs.slice(1).join(' ')}`;
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
