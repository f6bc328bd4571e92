/**
 * `npm run soak`: the sidecar as a real process under steady Talos traffic
 * while everything around it fails, then a count of what got through.
 *
 *   node dist-tools/bench/soak/run.js                 3 minutes (the default)
 *   node dist-tools/bench/soak/run.js --minutes 30    longer; the timeline scales
 *   options: --rate N (lines/s, 20000) --nodes N (10) --btrfs-every S (20) --keep (keep the work dir)
 *
 * Pieces: the sidecar (`node dist/cli.js run` with --state-file and
 * --spool-dir in a temp dir), a forked sender (generator records at --rate,
 * a BTRFS failure every --btrfs-every seconds, Talos's drop-and-redial
 * behaviour), a local Loki receiver (protobuf+snappy, the sidecar's default
 * format) that records each line's soak sequence number, and Debian's real
 * Alertmanager.
 *
 * Timeline (fractions of the run): 10 % Loki goes down (crashing in the middle
 * of a push: stored, never acknowledged, so that batch comes twice); 20 % the sidecar is
 * restarted while Loki is down (its spool must carry over); 30 % Loki comes
 * back; 45 % Alertmanager goes down; 55 % it comes back (empty: the sidecar
 * must re-send); 65 % the sidecar is restarted again; 85 % traffic stops; then
 * the backlog drains and the counts are checked.
 *
 * Lost lines are counted against what the sidecar *accepted* (its own
 * lines_received_total), not against what the sender wrote: like Talos, the
 * sender drops records while the sidecar is down, and bytes in flight when a
 * process dies are lost in TCP before anyone reads them. To read an exact
 * accepted count, the sender pauses (its sockets flushed) just before each
 * stop; the counter is read once it no longer moves.
 *
 * Exit status: 1 if any accepted line never reached Loki, if a stored line
 * was never sent, if the sidecar exited on its own or not with 0 on SIGTERM,
 * or if the BTRFS alert is not in Alertmanager at the end; 0 otherwise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ForkedChild } from '../lib/forked-child.js';
import { LokiStore } from './loki-store.js';
import { AlertmanagerProcess, SidecarProcess, freePort, sumOf, type Scrape } from './processes.js';
import { SEED_RULES } from '../rule-sets.js';
import type { SenderCmd, SenderEv, SenderStats } from './sender.js';

interface Args {
  minutes: number;
  rate: number;
  nodes: number;
  btrfsEverySec: number;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { minutes: 3, rate: 20_000, nodes: 10, btrfsEverySec: 20, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} needs a positive number`);
      return v;
    };
    if (flag === '--minutes') a.minutes = num();
    else if (flag === '--rate') a.rate = num();
    else if (flag === '--nodes') a.nodes = Math.round(num());
    else if (flag === '--btrfs-every') a.btrfsEverySec = num();
    else if (flag === '--keep') a.keep = true;
    else throw new Error(`unknown option ${flag} (see the header of bench/soak/run.ts)`);
  }
  return a;
}

const MiB = 1024 * 1024;
const S = 'talos_alert_sidecar_';
const ALERT = 'BTRFSCorruptionDetected';

/** What one sidecar process did, read just before it was stopped (traffic paused). */
interface Lifetime {
  accepted: number;
  lokiSent: number;
  lokiDropped: number;
  lokiRetries: number;
  alertsSent: number;
  alertErrors: number;
  decodeErrors: number;
  startMs: number;
  stopMs: number;
  exitCode: number | null;
  peakRss: number;
}

const t0 = Date.now();
const stamp = (): string => `[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s]`;
const say = (msg: string): void => void process.stdout.write(`${stamp()} ${msg}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let i = 0; ports.size < n && i < 50; i++) ports.add(await freePort());
  if (ports.size < n) throw new Error('could not find free ports');
  return [...ports];
}

/** Scrape until lines_received_total holds still across two reads (traffic is paused); bounded. */
async function quiesce(sidecar: SidecarProcess): Promise<Scrape> {
  let prev = await sidecar.scrape();
  const deadline = Date.now() + 15_000;
  for (;;) {
    await sleep(300);
    const cur = await sidecar.scrape();
    if (sumOf(cur, `${S}lines_received_total`) === sumOf(prev, `${S}lines_received_total`) || Date.now() > deadline) return cur;
    prev = cur;
  }
}

function lifetimeOf(m: Scrape, startMs: number): Lifetime {
  return {
    accepted: sumOf(m, `${S}lines_received_total`),
    lokiSent: sumOf(m, `${S}loki_lines_sent_total`),
    lokiDropped: sumOf(m, `${S}loki_dropped_lines_total`),
    lokiRetries: sumOf(m, `${S}loki_retries_total`),
    alertsSent: sumOf(m, `${S}alertmanager_alerts_sent_total`),
    alertErrors: sumOf(m, `${S}alertmanager_errors_total`),
    decodeErrors: sumOf(m, `${S}decode_errors_total`),
    startMs,
    stopMs: 0,
    exitCode: null,
    peakRss: 0,
  };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const totalMs = args.minutes * 60_000;
  const dir = mkdtempSync(join(tmpdir(), 'talos-soak-'));
  say(`soak: ${args.minutes} min, ${args.rate} lines/s from ${args.nodes} nodes, BTRFS failure every ${args.btrfsEverySec} s; work dir ${dir}`);

  const [ingestPort, httpPort, amPort] = await distinctPorts(3);
  const loki = new LokiStore();
  await loki.start(0);
  const am = new AlertmanagerProcess(amPort!, dir);
  await am.start();
  const sidecar = new SidecarProcess({
    rules: SEED_RULES,
    ingestPort: ingestPort!,
    httpPort: httpPort!,
    alertmanagerUrl: am.url,
    lokiUrl: loki.url,
    spoolDir: join(dir, 'spool'),
    stateFile: join(dir, 'state.json'),
    logPrefix: join(dir, 'sidecar'),
  });
  const lifetimes: Lifetime[] = [];
  let startMs = await sidecar.start();
  say(`sidecar ready in ${startMs} ms (pid ${sidecar.pid}); Loki receiver ${loki.url}; Alertmanager ${am.url}`);

  const sender = new ForkedChild<SenderCmd, SenderEv>(fileURLToPath(new URL('./sender.js', import.meta.url)));
  sender.send({
    cmd: 'start',
    config: { port: ingestPort!, ratePerSec: args.rate, nodes: args.nodes, seed: 1, btrfsEveryMs: args.btrfsEverySec * 1000, maxActiveMs: totalMs + 60_000 },
  });
  await sender.next('started', 10_000);

  const amReceived = { firing: 0, resolved: 0 };
  const addAmReceived = (m: Scrape): void => {
    amReceived.firing += sumOf(m, 'alertmanager_alerts_received_total', 'status="firing"');
    amReceived.resolved += sumOf(m, 'alertmanager_alerts_received_total', 'status="resolved"');
  };
  const peaks = { rss: 0, lagS: 0, spoolBytes: 0, bufferBytes: 0 };
  let lastSenderStats: SenderStats | undefined;
  const failures: string[] = [];

  // Sample the sidecar every second (RSS, lag, spool); report every 10 s.
  let sampling = false;
  let lastReport = 0;
  const sampler = setInterval(() => {
    if (sampling) return;
    sampling = true;
    void (async () => {
      peaks.rss = Math.max(peaks.rss, sidecar.rss());
      try {
        const m = await sidecar.scrape();
        peaks.lagS = Math.max(peaks.lagS, sumOf(m, 'nodejs_eventloop_lag_max_seconds'));
        peaks.spoolBytes = Math.max(peaks.spoolBytes, sumOf(m, `${S}loki_spool_bytes`));
        peaks.bufferBytes = Math.max(peaks.bufferBytes, sumOf(m, `${S}loki_buffer_bytes`));
        if (Date.now() - lastReport >= 10_000) {
          lastReport = Date.now();
          const st = loki.stats();
          say(
            `accepted ${sumOf(m, `${S}lines_received_total`)} (this run), Loki stored ${st.unique} (+${st.duplicates} dup)${loki.up ? '' : ' [Loki down]'}, ` +
              `spool ${(sumOf(m, `${S}loki_spool_bytes`) / MiB).toFixed(1)} MiB, RSS ${(sidecar.rss() / MiB).toFixed(0)} MiB, lag ${(sumOf(m, 'nodejs_eventloop_lag_max_seconds') * 1000).toFixed(0)} ms`,
          );
        }
      } catch {
        // restarting: no metrics for a moment
      } finally {
        sampling = false;
      }
    })();
  }, 1000);

  const restartSidecar = async (n: number): Promise<void> => {
    sender.send({ cmd: 'pause' });
    lastSenderStats = (await sender.next('paused', 20_000)).stats;
    const m = await quiesce(sidecar);
    const life = lifetimeOf(m, startMs);
    const stop = await sidecar.stop();
    life.stopMs = stop.ms;
    life.exitCode = stop.code;
    life.peakRss = stop.peakRss;
    lifetimes.push(life);
    if (stop.code !== 0) failures.push(`sidecar run ${lifetimes.length} exited with code ${stop.code} signal ${stop.signal} on SIGTERM`);
    sender.send({ cmd: 'resume' });
    say(`sidecar restart ${n}: stopped after accepting ${life.accepted} lines (SIGTERM → exit ${stop.code} in ${stop.ms} ms, peak RSS ${(stop.peakRss / MiB).toFixed(0)} MiB)`);
    startMs = await sidecar.start();
    say(`sidecar restart ${n}: ready again in ${startMs} ms (pid ${sidecar.pid})`);
  };

  const timeline: Array<{ at: number; what: string; run: () => Promise<void> }> = [
    { at: 0.1, what: 'Loki down (crashing mid-push: one batch stored but never acknowledged)', run: () => loki.stop({ crashMidPush: true }) },
    { at: 0.2, what: 'sidecar restart 1 (Loki still down)', run: () => restartSidecar(1) },
    { at: 0.3, what: 'Loki up', run: () => loki.start() },
    {
      at: 0.45,
      what: 'Alertmanager down',
      run: async () => {
        addAmReceived(await am.scrape());
        await am.stop();
      },
    },
    { at: 0.55, what: 'Alertmanager up (empty: alerts must be re-sent)', run: () => am.start() },
    { at: 0.65, what: 'sidecar restart 2', run: () => restartSidecar(2) },
  ];
  try {
    for (const ev of timeline) {
      const wait = t0 + ev.at * totalMs - Date.now();
      if (wait > 0) await sleep(wait);
      if (sidecar.unexpectedExit !== undefined) throw new Error(sidecar.unexpectedExit);
      say(`>>> ${ev.what}`);
      await ev.run();
    }
    await sleep(Math.max(0, t0 + 0.85 * totalMs - Date.now()));

    // Stop the traffic, read the last run's accepted count, let the backlog drain.
    say('>>> traffic stops; draining');
    sender.send({ cmd: 'stop' });
    const sent = (await sender.next('stopped', 30_000)).stats;
    lastSenderStats = sent;
    const lastLife = lifetimeOf(await quiesce(sidecar), startMs);
    const accepted = lifetimes.reduce((n, l) => n + l.accepted, 0) + lastLife.accepted;
    const drainDeadline = Date.now() + 180_000;
    while (loki.stats().unique < accepted && Date.now() < drainDeadline) await sleep(500);
    say(`Loki has ${loki.stats().unique} of ${accepted} accepted lines`);

    // The alert must be in Alertmanager (it lost everything when it restarted).
    const alertDeadline = Date.now() + 90_000;
    let alertActive = false;
    while (!alertActive && Date.now() < alertDeadline) {
      try {
        alertActive = (await am.alerts()).some((a) => a.labels.alertname === ALERT && a.status.state === 'active');
      } catch {
        // retry
      }
      if (!alertActive) await sleep(1000);
    }
    if (!alertActive) failures.push(`${ALERT} is not active in Alertmanager at the end`);

    // Final stop: the drain on SIGTERM (state file written, Loki flushed).
    const finalScrape = await sidecar.scrape();
    Object.assign(lastLife, lifetimeOf(finalScrape, startMs), { accepted: lastLife.accepted });
    const stop = await sidecar.stop();
    lastLife.stopMs = stop.ms;
    lastLife.exitCode = stop.code;
    lastLife.peakRss = stop.peakRss;
    lifetimes.push(lastLife);
    if (stop.code !== 0) failures.push(`final sidecar exited with code ${stop.code} signal ${stop.signal} on SIGTERM`);
    addAmReceived(await am.scrape());
    clearInterval(sampler);

    // ---------------------------------------------------------------- report
    const st = loki.stats();
    const lost = accepted - st.unique;
    const phantom = st.seqEnd > sent.nextSeq ? st.seqEnd - sent.nextSeq : 0;
    if (lost > 0) failures.push(`${lost} accepted lines never reached Loki (first missing sequence numbers: ${loki.missing(sent.nextSeq).join(', ')})`);
    if (phantom > 0 || st.unmarked > 0) failures.push(`Loki holds lines the sender never sent (${phantom} beyond the last sequence number, ${st.unmarked} unmarked)`);
    if (st.badRequests > 0) failures.push(`${st.badRequests} push requests could not be decoded`);
    const activeS = sent.activeMs / 1000;
    const peakRss = Math.max(peaks.rss, ...lifetimes.map((l) => l.peakRss));
    const rows: Array<[string, string]> = [
      ['duration', `${((Date.now() - t0) / 1000).toFixed(0)} s (traffic ${activeS.toFixed(0)} s active)`],
      ['generator', `${sent.nextSeq} records (${(sent.nextSeq / activeS).toFixed(0)}/s generated, ${(sent.sent / activeS).toFixed(0)}/s onto live connections); ${sent.sent} sent, ${sent.dropped} dropped while the sidecar was down (as Talos does), ${sent.droppedBacklog} dropped for backlog; ${sent.btrfsSent} BTRFS lines; ${sent.dials} dials`],
      ['sidecar accepted', `${accepted} = ${lifetimes.map((l) => l.accepted).join(' + ')} (3 runs); ${sent.sent - accepted} sent lines died in TCP with a stopping sidecar`],
      ['Loki stored', `${st.unique} unique lines in ${st.requests} pushes (${(st.bytes / MiB).toFixed(0)} MiB compressed), ${st.streams} streams`],
      ['lost (accepted, never stored)', `${lost}`],
      ['duplicates (at-least-once)', `${st.duplicates}`],
      ['sidecar Loki counters (pre-stop)', `sent ${lifetimes.reduce((n, l) => n + l.lokiSent, 0)}, dropped ${lifetimes.reduce((n, l) => n + l.lokiDropped, 0)}, retries ${lifetimes.reduce((n, l) => n + l.lokiRetries, 0)}; peak spool ${(peaks.spoolBytes / MiB).toFixed(1)} MiB, peak memory buffer ${(peaks.bufferBytes / MiB).toFixed(1)} MiB`],
      ['alerts', `sidecar sent ${lifetimes.reduce((n, l) => n + l.alertsSent, 0)} (errors ${lifetimes.reduce((n, l) => n + l.alertErrors, 0)} while Alertmanager was down); Alertmanager received ${amReceived.firing} firing + ${amReceived.resolved} resolved; ${ALERT} active at the end: ${alertActive ? 'yes' : 'NO'}`],
      ['restarts', lifetimes.map((l, i) => `run ${i + 1}: ready ${l.startMs} ms, SIGTERM→exit ${l.stopMs} ms (code ${l.exitCode})`).join('; ')],
      ['sidecar peak RSS', `${(peakRss / MiB).toFixed(0)} MiB (per run: ${lifetimes.map((l) => `${(l.peakRss / MiB).toFixed(0)}`).join(', ')} MiB)`],
      ['event-loop lag, worst 1 s max', `${(peaks.lagS * 1000).toFixed(0)} ms`],
      ['decode errors', `${lifetimes.reduce((n, l) => n + l.decodeErrors, 0)}`],
    ];
    process.stdout.write('\n== soak result ==\n');
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(34)} ${v}\n`);
    if (failures.length > 0) {
      process.stdout.write(`\nFAIL:\n${failures.map((f) => `  - ${f}`).join('\n')}\nlogs kept in ${dir}\n`);
      return 1;
    }
    process.stdout.write('\nPASS: every accepted line reached Loki\n');
    if (args.keep) process.stdout.write(`work dir kept: ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
    return 0;
  } catch (e) {
    process.stdout.write(`\nFAIL: ${(e as Error).stack ?? String(e)}\nlogs kept in ${dir}\n`);
    if (lastSenderStats !== undefined) process.stdout.write(`sender so far: ${JSON.stringify(lastSenderStats)}\n`);
    return 1;
  } finally {
    clearInterval(sampler);
    sender.send({ cmd: 'exit' });
    await sender.stop();
    await sidecar.stop();
    await am.stop();
    await loki.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
