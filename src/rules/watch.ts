/**
 * Notices rule file changes by polling a signature of the files (path, size,
 * mtime, link target). Polling, not fs.watch: Kubernetes updates a ConfigMap
 * mount by swapping a `..data` symlink, which inotify-based watches on the
 * old files miss.
 */
import { readdir, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';

async function signatureOf(path: string, depth: number, out: string[]): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch {
    out.push(`${path}:missing`);
    return;
  }
  let link = '';
  try {
    link = await readlink(path);
  } catch {
    // not a symlink
  }
  out.push(`${path}:${st.size}:${st.mtimeMs}:${link}`);
  if (st.isDirectory() && depth < 3) {
    const names = (await readdir(path).catch(() => [] as string[])).sort();
    for (const n of names) await signatureOf(join(path, n), depth + 1, out);
  }
}

export async function rulesSignature(paths: readonly string[]): Promise<string> {
  const out: string[] = [];
  for (const p of paths) await signatureOf(p, 0, out);
  return out.join('\n');
}

export class RuleWatcher {
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  private busy = false;

  constructor(
    private readonly paths: readonly string[],
    private readonly onChange: () => Promise<void>,
    private readonly intervalMs = 2000,
  ) {}

  async start(): Promise<void> {
    this.last = await rulesSignature(this.paths);
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const sig = await rulesSignature(this.paths);
      if (sig !== this.last) {
        this.last = sig;
        await this.onChange();
      }
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }
}
