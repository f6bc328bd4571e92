/**
 * CPU profile of just the measured part of a benchmark (V8's sampling
 * profiler through node:inspector, the same data `node --cpu-prof` writes),
 * and its top functions by self time.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
}

export interface SelfTime {
  /** `name (file:line)`. */
  where: string;
  /** Share of all samples, 0..1. */
  share: number;
}

export async function profiled<T>(fn: () => Promise<T>, file: string): Promise<{ result: T; top: SelfTime[] }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    const result = await fn();
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
    writeFileSync(file, JSON.stringify(profile));
    return { result, top: topSelfTime(profile, 20) };
  } finally {
    session.disconnect();
  }
}

export function topSelfTime(profile: CpuProfile, n: number): SelfTime[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const counts = new Map<string, number>();
  for (const id of profile.samples) {
    const f = byId.get(id)!.callFrame;
    const file = f.url === '' ? '' : ` (${f.url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^file:\/\//, '')}:${f.lineNumber + 1})`;
    const where = `${f.functionName || '(anonymous)'}${file}`;
    counts.set(where, (counts.get(where) ?? 0) + 1);
  }
  const total = profile.samples.length;
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([where, c]) => ({ where, share: c / total }));
}
