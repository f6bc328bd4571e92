#!/usr/bin/env node
// The real peers the integration tests run against: Debian's Alertmanager and Prometheus
// (with promtool). The first step of `npm test`: on a fresh machine it installs them when it
// can (root with apt-get), otherwise it stops at once with the exact command to run, instead
// of a minute of failing tests.
import { spawnSync } from 'node:child_process';

const PEERS = [
  { bin: 'prometheus-alertmanager', pkg: 'prometheus-alertmanager' },
  { bin: 'prometheus', pkg: 'prometheus' },
  { bin: 'promtool', pkg: 'prometheus' },
];

const onPath = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
const missing = () => PEERS.filter((p) => !onPath(p.bin));

let lacking = missing();
if (lacking.length === 0) process.exit(0);

const pkgs = [...new Set(lacking.map((p) => p.pkg))];
const command = `apt-get update && apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (isRoot && onPath('apt-get') && process.env.TEST_PEERS_NO_INSTALL !== '1') {
  console.error(`test peers: installing ${pkgs.join(', ')} (${lacking.map((p) => p.bin).join(', ')} not on PATH)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args) => spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env, timeout: 600_000 }).status === 0;
  if (run(['update', '-qq']) && run(['install', '-y', '-qq', '--no-install-recommends', ...pkgs])) {
    // Debian starts the services it installs; the tests start their own on free ports.
    for (const svc of ['prometheus', 'prometheus-alertmanager']) spawnSync('systemctl', ['stop', svc], { stdio: 'ignore' });
    lacking = missing();
  }
}
if (lacking.length > 0) {
  console.error(`test peers missing: ${lacking.map((p) => p.bin).join(', ')}. The integration tests run the real ones; install them with:\n  ${isRoot ? '' : 'sudo '}${command}`);
  process.exit(1);
}
