/**
 * Child entry: run one benchmark part in this fresh process (clean heap and
 * JIT, its own RSS) and send its output to run.ts.
 *
 *   node dist-tools/bench/part-child.js <part-id> [--quick]
 */
import { PARTS, type PartOutput } from './part-definitions.js';

export type PartMessage = { ok: true; output: PartOutput } | { ok: false; error: string };

const id = process.argv[2] ?? '';
const part = PARTS[id];
const reply = (m: PartMessage): void => {
  if (process.send !== undefined) process.send(m, () => process.exit(0));
  else {
    process.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
    process.exit(m.ok ? 0 : 1);
  }
};

if (part === undefined) {
  reply({ ok: false, error: `unknown part "${id}" (known: ${Object.keys(PARTS).join(', ')})` });
} else {
  part({ quick: process.argv.includes('--quick') }).then(
    (output) => reply({ ok: true, output }),
    (err: unknown) => reply({ ok: false, error: (err as Error).stack ?? String(err) }),
  );
}
