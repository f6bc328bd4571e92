#!/usr/bin/env node
/**
 * talos-alert-sidecar command line: run | check | check config | replay | demo | config-docs.
 * Exit codes: 0 done, 1 failed (bad config, bad rules, …), 2 usage error.
 */
import { createRequire } from 'node:module';
import { ConfigError } from './config/schema.js';
import { RuleLoadError, RuleLoadErrors } from './rules/rule-file.js';
import { StateFileError } from './rules/state-file.js';
import { parseCommand, UsageError, type CommandSpec } from './cli/args.js';
import { COMMANDS, findCommand } from './cli/commands.js';

const PROGRAM = 'talos-alert-sidecar';

function usage(): string {
  const lines = COMMANDS.map((c) => `  ${c.spec.name.padEnd(14)} ${c.spec.summary}`);
  return `${PROGRAM} — LogQL alert rules on the Talos log stream, straight to Alertmanager

Usage: ${PROGRAM} COMMAND [FLAG]... [ARG]...

Commands:
${lines.join('\n')}

  ${PROGRAM} COMMAND --help   flags of one command
  ${PROGRAM} --version        print the version

Every setting, its flag and default: docs/configuration.md.
`;
}

function commandUsage(spec: CommandSpec): string {
  return `Usage: ${spec.usage}`;
}

async function main(argv: readonly string[]): Promise<number> {
  const first = argv[0];
  if (first === undefined) {
    process.stderr.write(usage());
    return 2;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    const found = argv.length > 1 ? findCommand(argv.slice(1)) : undefined;
    process.stdout.write(found !== undefined ? commandUsage(found.command.spec) : usage());
    return 0;
  }
  if (first === '--version' || first === 'version') {
    const pkg = createRequire(import.meta.url)('../package.json') as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const found = findCommand(argv);
  if (found === undefined) {
    process.stderr.write(`${PROGRAM}: unknown ${first.startsWith('-') ? 'flag' : 'command'} ${JSON.stringify(first)}\n\n${usage()}`);
    return 2;
  }
  const { spec } = found.command;
  try {
    const args = parseCommand(spec, found.rest);
    if (args === undefined) {
      process.stdout.write(commandUsage(spec));
      return 0;
    }
    return await found.command.run(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${PROGRAM} ${spec.name}: ${e.message}\n\n${commandUsage(e.command ?? spec)}`);
    return 2;
  }
}

/**
 * Errors a user causes and can fix (config, rule files, files and ports the
 * system refuses): the message names what failed; a stack trace would only
 * bury it. Anything else is a bug and keeps its stack.
 */
function isExpected(err: unknown): err is Error {
  if (err instanceof ConfigError || err instanceof RuleLoadError || err instanceof RuleLoadErrors || err instanceof StateFileError) return true;
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && !(err instanceof TypeError) && !(err instanceof RangeError);
}

main(process.argv.slice(2)).then(
  (code) => {
    // `run` and `demo` keep the process alive until a signal; the rest exit now.
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    const msg = isExpected(err) ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`${PROGRAM}: ${msg}\n`);
    // Exit now, whatever is still open: a failed start must never leave a port half-served.
    process.exit(1);
  },
);
