/**
 * Engine → notifier: a resend carries the alert's current annotations
 * ({{ $value }} re-rendered at each evaluation), as Prometheus resends them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRegistry } from '../../src/metrics/registry.js';
import { AlertmanagerNotifier } from '../../src/sinks/alertmanager/notifier.js';
import { Simulation } from '../../src/rules/simulate.js';
import { amConfig, captureLogger, rulesConfig } from '../helpers/alert-change.js';
import { startAlertReceiver, type AlertReceiver } from '../helpers/alertmanager.js';
import { T0, ev, oneRule } from '../helpers/timeline.js';

let am: AlertReceiver | undefined;
let n: AlertmanagerNotifier | undefined;
afterEach(async () => {
  await n?.stop();
  await am?.close();
});

describe('resends', () => {
  it('send the annotations as of now, not as of the firing change', async () => {
    am = await startAlertReceiver();
    const rules = oneRule('sum(count_over_time({job="talos-kernel"} |= "x" [5m])) > 0', "        annotations:\n          summary: '{{ $value }} lines'\n");
    const sim = new Simulation(rules, T0);
    n = new AlertmanagerNotifier(amConfig([am.url]), rulesConfig({ resendDelayMs: 60_000 }), {
      registry: createRegistry({ processMetrics: false }),
      logger: captureLogger().logger,
      now: () => sim.now,
    });
    sim.engine.onAlert((c) => n!.handle(c));
    sim.ingest(ev(T0, 'x'));
    await am.waitFor((p) => p.length === 1);
    expect(am.posts[0]!.alerts[0]!.annotations).toEqual({ summary: '1 lines' });
    sim.ingest(ev(T0 + 1000, 'x'));
    sim.ingest(ev(T0 + 2000, 'x'));
    sim.advanceTo(T0 + 61_000);
    n.tick();
    await am.waitFor((p) => p.length === 2);
    expect(am.posts[1]!.alerts[0]!.annotations).toEqual({ summary: '3 lines' });
    // The change the engine emitted still reads as it was when it fired.
    expect(sim.changes.find((c) => c.kind === 'firing')!.alert.annotations).toEqual({ summary: '1 lines' });
  });
});
