#!/usr/bin/env node
/**
 * talos-alert-sidecar command line: run | check | replay | demo | config-docs.
 */
import { createRequire } from 'node:module';
import { ConfigError } from './config/schema.js';
import { parseArgs } from './config/load.js';
import { runCommand } from './cli/run.js';
import { checkCommand } from './cli/check.js';
import { demoCommand } from './cli/demo.js';
import { replayCommand } from './cli/replay.js';
import { configDocs } from './config/schema.js';

const USAGE = `talos-alert-sidecar — LogQL alert rules on the Talos log stream, straight to Alertmanager

Usage:
  talos-alert-sidecar run [--config FILE] [--rules PATH]... [--alertmanager-url URL]...
                          [--loki-url URL] [--listen HOST:PORT] [--http-listen HOST:PORT]
                          [--external-url URL] [--spool-dir DIR] [--state-file FILE]
                          [--unsupported-rules error|skip] [--log-level L] [--log-format json|pretty]
  talos-alert-sidecar check [rules] PATH... [--strict] [--config FILE]
                                                    validate rule files (like promtool check rules);
                                                    --strict: unsupported LogQL is an error
  talos-alert-sidecar check config FILE             validate a config file (like amtool check-config)
  talos-alert-sidecar replay --rules PATH [--output text|json] [--host NAME] [--service NAME] [FILE|-]
                                                    backtest rules on a capture (json_lines,
                                                    'talosctl dmesg' or 'talosctl logs SERVICE' output)
  talos-alert-sidecar demo [--duration SECONDS]     run on embedded defaults with generated Talos traffic
  talos-alert-sidecar config-docs                   print the settings table (docs/configuration.md)

Every setting, its flag and default: docs/configuration.md.
`;

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ['--output', '--duration', '--host', '--service']);
  if (args.booleans.has('--help') || args.command === 'help' || args.command === '') {
    process.stdout.write(USAGE);
    return args.command === '' && !args.booleans.has('--help') ? 2 : 0;
  }
  if (args.booleans.has('--version') || args.command === 'version') {
    const pkg = createRequire(import.meta.url)('../package.json') as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  switch (args.command) {
    case 'run':
      return runCommand(args);
    case 'check':
      return checkCommand(args);
    case 'replay':
      return replayCommand(args);
    case 'demo':
      return demoCommand(args);
    case 'config-docs':
      process.stdout.write(`${configDocs()}\n`);
      return 0;
    default:
      process.stderr.write(`unknown command "${args.command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // `run` and `demo` keep the process alive until a signal; the rest exit now.
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    const msg = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`talos-alert-sidecar: ${msg}\n`);
    process.exitCode = 1;
  },
);
