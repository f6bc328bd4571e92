/**
 * Spawned peers (Alertmanager, sidecar processes) are not forked children
 * with an IPC channel that ends them when we go: kill whatever is still
 * running when this process exits, however it exits.
 */
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let hooked = false;

export function reapOnExit(proc: ChildProcess): void {
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const p of live) p.kill('SIGKILL');
    });
  }
}
