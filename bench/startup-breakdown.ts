/**
 * Where start-up time goes, in a fresh process (run by startup.ts): the
 * heavy dependencies imported one by one (each figure is what that import
 * added), then the rest of the application, then loading the seed rules and
 * starting the sidecar. Prints one JSON object.
 *
 *   node dist-tools/bench/startup-breakdown.js
 */
const processStartMs = performance.now();
const steps: Array<[string, number]> = [];

async function timed(name: string, fn: () => Promise<unknown>): Promise<void> {
  const t = performance.now();
  await fn();
  steps.push([name, performance.now() - t]);
}

for (const mod of ['prom-client', 'fastify', 'pino', 'yaml', '@lezer/lr', 'protobufjs/light.js', 'snappyjs']) await timed(`import ${mod}`, () => import(mod));
await timed('import the rest of the application (dist/app.js)', () => import('../src/app.js'));
const { loadRuleSet } = await import('../src/rules/load.js');
const { SEED_RULES } = await import('./rule-sets.js');
await timed('load and compile rules/talos-kernel.yaml', () => loadRuleSet([SEED_RULES], { unsupported: 'error' }));
const { startBenchSidecar } = await import('./sidecar.js');
const ruleSet = await loadRuleSet([SEED_RULES], { unsupported: 'error' });
let close: () => Promise<void> = async () => {};
await timed('startSidecar (listeners, HTTP server, engine) with rules already loaded', async () => {
  const sc = await startBenchSidecar({ ruleSet });
  close = () => sc.close();
});
await close();
process.stdout.write(`${JSON.stringify({ nodeBootMs: processStartMs, steps })}\n`);
