/** `run`: the sidecar as a service. SIGTERM/SIGINT drain and exit 0; SIGHUP reloads rules. */
import { loadConfig } from '../config/load.js';
import { startSidecar, type Sidecar } from '../app.js';
import { configFlags, type CommandArgs } from './args.js';

/** Longest we wait for a graceful stop before exiting anyway. */
const SHUTDOWN_BOUND_MS = 15_000;

export function handleSignals(sidecar: Sidecar): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    sidecar.logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      sidecar.logger.error('graceful stop took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_BOUND_MS);
    force.unref();
    sidecar.close().then(
      () => process.exit(0),
      (err: unknown) => {
        sidecar.logger.error({ err: (err as Error).message }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => void sidecar.reload());
}

export async function runCommand(args: CommandArgs): Promise<number> {
  const cfg = loadConfig(configFlags(args));
  const sidecar = await startSidecar(cfg);
  handleSignals(sidecar);
  return -1;
}
