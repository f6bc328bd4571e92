/**
 * Start to ready: spawn `node dist/cli.js run` with the seed rules, poll
 * `/readyz` every 2 ms, and time spawn → first 200. Node's own start
 * (`node -e 0`, spawn → exit) is measured alongside, to show how much of it
 * is the runtime rather than the sidecar.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnCliSidecar } from './cli-process.js';
import { SEED_RULES } from './rule-sets.js';

export interface StartupResult {
  readyMs: number[];
  nodeBareMs: number[];
  /** One fresh process's start-up, step by step (startup-breakdown.ts). */
  breakdown: { nodeBootMs: number; steps: Array<[string, number]> };
}

async function nodeBare(): Promise<number> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return performance.now() - t0;
}

function breakdown(): Promise<StartupResult['breakdown']> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [fileURLToPath(new URL('./startup-breakdown.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('exit', (code) => {
      try {
        resolve(JSON.parse(out) as StartupResult['breakdown']);
      } catch {
        reject(new Error(`startup-breakdown exited ${code}: ${out}`));
      }
    });
  });
}

export async function startToReady(runs: number): Promise<StartupResult> {
  const readyMs: number[] = [];
  const nodeBareMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    nodeBareMs.push(await nodeBare());
    const sc = await spawnCliSidecar([SEED_RULES]);
    try {
      readyMs.push(await sc.waitReady());
    } finally {
      await sc.stop();
    }
  }
  return { readyMs, nodeBareMs, breakdown: await breakdown() };
}
