/** Issue 16 part 6: the state file follows alert state changes within half a second, atomically. */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { RuleEngine } from '../../src/rules/engine.js';
import { readStateFile } from '../../src/rules/state-file.js';
import { StateSaver } from '../../src/rules/state-saver.js';
import { ev, oneRule } from '../helpers/timeline.js';
import { until } from '../helpers/sidecar.js';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'tas-saver-'));
  const file = join(dir, 'state.json');
  const engine = new RuleEngine({ tickMs: 1000, resolvedRetentionMs: 60_000, externalLabels: {}, externalUrl: '', autoFlush: false });
  engine.load(oneRule('sum(count_over_time({job="talos-kernel"} |= "boom" [5m])) > 0'));
  const saver = new StateSaver(engine, { file, delayMs: 100, intervalMs: 60_000, logger: pino({ level: 'silent' }) });
  return { dir, file, engine, saver };
}

describe('StateSaver', () => {
  it('writes the state file shortly after an alert fires, not only on the periodic timer', async () => {
    const { dir, file, engine, saver } = setup();
    saver.start();
    engine.ingest(ev(Date.now(), 'boom'));
    engine.flush();
    const snap = await until(() => readStateFile(file).catch(() => undefined), (s) => s !== undefined, 2_000);
    expect(snap!.rules[0]!.alerts.map((a) => a.state)).toEqual(['firing']);
    // Nothing half-written is left beside it.
    expect(readdirSync(dir)).toEqual(['state.json']);
    await saver.stop();
  });

  it('coalesces a burst of saves into at most one write behind the one in progress', async () => {
    const { engine, saver } = setup();
    engine.ingest(ev(Date.now(), 'boom'));
    engine.flush();
    await Promise.all(Array.from({ length: 20 }, () => saver.save()));
    expect(saver.writes).toBeGreaterThanOrEqual(1);
    expect(saver.writes).toBeLessThanOrEqual(2);
  });
});
