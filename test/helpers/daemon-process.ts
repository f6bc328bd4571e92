/**
 * Start and stop a real peer binary (Alertmanager, Prometheus) for tests:
 * fail loudly when it is missing, wait (bounded) for its readiness URL, keep
 * the tail of its output for error messages, and never leave it running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** Children still running; killed when the test process exits, whatever happened. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

/**
 * Throw unless `binary` is an executable. We never skip silently: in CI the
 * test fails; locally the message says what to install.
 */
export function requireBinary(binary: string, aptPackage: string): void {
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    if (process.env.CI) throw new Error(`${binary} is missing on this CI runner (install the Debian package ${aptPackage})`);
    throw new Error(`${binary} not found: apt-get install ${aptPackage}`);
  }
}

export interface DaemonSpec {
  /** For messages. */
  readonly name: string;
  readonly binary: string;
  readonly args: readonly string[];
  /** Polled until it answers 200. */
  readonly readyUrl: string;
  readonly readyTimeoutMs?: number;
}

const OUTPUT_TAIL = 4096;

export class Daemon {
  private child: ChildProcess | undefined;
  private out = '';
  private exited: Promise<void> = Promise.resolve();

  constructor(private readonly spec: DaemonSpec) {}

  /** Last few KiB of the daemon's stdout+stderr. */
  get output(): string {
    return this.out;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawn and wait until the readiness URL returns 200; throws (with the daemon's output) otherwise. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.spec.name} already running`);
    installExitHook();
    this.out = '';
    const child = spawn(this.spec.binary, [...this.spec.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    const keep = (b: Buffer): void => {
      this.out = (this.out + b.toString('utf8')).slice(-OUTPUT_TAIL);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let exitInfo: string | undefined;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = `exit code ${code ?? '-'} signal ${signal ?? '-'}`;
        live.delete(child);
        resolve();
      });
      child.once('error', (err) => {
        exitInfo = `spawn error: ${err.message}`;
        live.delete(child);
        resolve();
      });
    });

    const deadline = Date.now() + (this.spec.readyTimeoutMs ?? 20_000);
    while (Date.now() < deadline) {
      if (exitInfo !== undefined) {
        throw new Error(`${this.spec.name} exited before ready (${exitInfo}):\n${this.out}`);
      }
      try {
        const res = await fetch(this.spec.readyUrl, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.stop();
    throw new Error(`${this.spec.name} not ready at ${this.spec.readyUrl} within ${this.spec.readyTimeoutMs ?? 20_000}ms:\n${this.out}`);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    if (this.running) {
      child.kill('SIGTERM');
      let t: NodeJS.Timeout | undefined;
      const killed = new Promise<void>((r) => {
        t = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, graceMs);
      });
      await Promise.race([this.exited, killed]);
      clearTimeout(t);
    }
    await this.exited;
    this.child = undefined;
  }
}

/** True when the daemon's output says its listen port was taken (we then retry on another port). */
export function portInUse(output: string): boolean {
  return /address already in use/i.test(output);
}
