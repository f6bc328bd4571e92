/**
 * The commands of the command line: each one's flags, usage and handler. The
 * handlers are imported when their command runs, so `--help`, `--version` and
 * usage errors answer without loading the service.
 */
import { configDocs, FIELDS, type FieldSpec } from '../config/schema.js';
import { booleanFlag, CONFIG_OPTIONS, enumFlag, UsageError, type CommandArgs, type CommandSpec } from './args.js';

export interface Command {
  spec: CommandSpec;
  /** Exit code, or -1 for a service that keeps running until a signal. */
  run(args: CommandArgs): Promise<number>;
}

function metavar(f: FieldSpec): string {
  switch (f.kind.t) {
    case 'enum':
      return f.kind.values.join('|');
    case 'hostport':
      return 'HOST:PORT';
    case 'url':
    case 'urls':
      return 'URL';
    default:
      return 'VALUE';
  }
}

const flagLines = FIELDS.filter((f) => f.flag !== undefined)
  .map((f) => `  ${`${f.flag} ${metavar(f)}`.padEnd(34)} ${f.key}${f.kind.t === 'strings' || f.kind.t === 'urls' ? ' (repeatable)' : ''}`)
  .join('\n');

export const RUN_COMMAND: CommandSpec = {
  name: 'run',
  summary: 'run the sidecar as a service',
  usage: `talos-alert-sidecar run [--config FILE] [FLAG VALUE]...

Runs the sidecar until SIGTERM/SIGINT (drain, exit 0); SIGHUP reloads the rules.
Flags override the config file; each sets one setting (docs/configuration.md):
  ${'--config FILE'.padEnd(34)} YAML config file
${flagLines}
`,
  options: CONFIG_OPTIONS,
  maxPositionals: 0,
};

const CHECK_COMMAND: CommandSpec = {
  name: 'check',
  summary: 'validate rule files (like promtool check rules)',
  usage: `talos-alert-sidecar check [rules] [--strict] [--unsupported-rules error|skip] [--config FILE] PATH...
       talos-alert-sidecar check config FILE

Validates rule files or directories as the sidecar and the Loki ruler load them;
exit 0 when all are valid, 1 otherwise. Rules that would never run here are
WARNING lines: LogQL the engine cannot run (unsupported), and rules whose stream
selectors can never match the labels the sidecar produces (not applicable: e.g.
application rules in a shared ConfigMap; never an error).
\`check config FILE\` validates a config file.
  --strict                         unsupported LogQL fails the check (CI linting)
  --unsupported-rules error|skip   LogQL the engine cannot run: skipped (default) or an error
  --config FILE                    judge applicability with this config's talos.* labels
`,
  options: { strict: { type: 'boolean' }, 'unsupported-rules': { type: 'string' }, config: { type: 'string' } },
  maxPositionals: Infinity,
};

/** `check rules PATH...`: promtool's spelling of `check PATH...`. */
const CHECK_RULES_COMMAND: CommandSpec = { ...CHECK_COMMAND, name: 'check rules', summary: 'the same as check PATH...' };

export const CHECK_CONFIG_COMMAND: CommandSpec = {
  name: 'check config',
  summary: 'validate a config file (like amtool check-config)',
  usage: `talos-alert-sidecar check config FILE

Loads FILE as \`run --config FILE\` would (YAML, known keys, values, \${VAR}
references, cross-field rules, the files it names) and prints SUCCESS or every
error (one per section); exit 0 when valid, 1 otherwise.
`,
  options: {},
  maxPositionals: 1,
};

const DEMO_COMMAND: CommandSpec = {
  name: 'demo',
  summary: 'run on embedded defaults with generated Talos traffic',
  usage: `talos-alert-sidecar demo [--duration SECONDS] [--json]

Starts the sidecar with the shipped kernel rules, no Alertmanager and no Loki,
and feeds it generated Talos traffic over loopback; exits 0 when an alert fired.
  --duration SECONDS   how long to generate traffic (1..3600, default 15)
  --json               JSON logs instead of pretty ones
`,
  options: { duration: { type: 'string' }, json: { type: 'boolean' } },
  maxPositionals: 0,
};

const REPLAY_COMMAND: CommandSpec = {
  name: 'replay',
  summary: 'backtest rules on a capture or on the history in Loki',
  usage: `talos-alert-sidecar replay [--rules PATH]... [--output text|json] [--host NAME] [--service NAME] [FILE|-]
       talos-alert-sidecar replay --loki-url URL [--since 24h | --from T [--to T]] [--rules PATH]... [--output text|json]

Replays a capture (Talos json_lines, 'talosctl dmesg' or 'talosctl logs SERVICE'
output; stdin when FILE is - or absent), or the lines Loki holds for the rules'
selectors and line filters, through the rules on the history's own clock, and
prints the alert timeline with the lines that caused each alert.
  --rules PATH                     rule file or directory (repeatable, default ./rules)
  --unsupported-rules error|skip   LogQL the engine cannot run: fail (default) or skip
  --output text|json               timeline format (default text)
  --host NAME                      host label for json_lines (default replay)
  --service NAME                   service of a 'talosctl logs SERVICE' capture
From Loki (progress on stderr when it is a terminal):
  --loki-url URL                   Loki base URL (query_range is appended)
  --config FILE                    take loki.* (URL, tenant, auth, TLS) and rules.* from a config file
  --tenant ID                      X-Scope-OrgID header
  --bearer-token-file FILE         bearer token for Loki
  --basic-auth-user USER           basic-auth user for Loki
  --basic-auth-password-file FILE  basic-auth password for Loki
  --since DURATION                 history up to now (default 24h)
  --from T, --to T                 history from T to T (RFC 3339 or Unix time; --to defaults to now)
  --limit N                        entries per request (default 5000, Loki's max_entries_limit_per_query)
  --chunk DURATION                 time per request (default 721h, Loki's max_query_length)
  --max-retries N                  retries of a request on 429/5xx (default 5)
`,
  options: {
    rules: { type: 'string', multiple: true },
    'unsupported-rules': { type: 'string' },
    output: { type: 'string' },
    host: { type: 'string' },
    service: { type: 'string' },
    'loki-url': { type: 'string' },
    config: { type: 'string' },
    tenant: { type: 'string' },
    'bearer-token-file': { type: 'string' },
    'basic-auth-user': { type: 'string' },
    'basic-auth-password-file': { type: 'string' },
    since: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    limit: { type: 'string' },
    chunk: { type: 'string' },
    'max-retries': { type: 'string' },
  },
  maxPositionals: 1,
};

const CONFIG_DOCS_COMMAND: CommandSpec = {
  name: 'config-docs',
  summary: 'print the settings table (docs/configuration.md)',
  usage: 'talos-alert-sidecar config-docs\n\nPrints the Markdown table of every setting, its flag and default.\n',
  options: {},
  maxPositionals: 0,
};

export const COMMANDS: readonly Command[] = [
  { spec: RUN_COMMAND, run: async (args) => (await import('./run.js')).runCommand(args) },
  { spec: CHECK_COMMAND, run: (args) => checkRules(args) },
  { spec: CHECK_RULES_COMMAND, run: (args) => checkRules(args) },
  {
    spec: CHECK_CONFIG_COMMAND,
    run: async (args) => {
      const file = args.positionals[0];
      if (file === undefined) throw new UsageError('missing FILE');
      const { checkConfig } = await import('./check-config.js');
      return checkConfig(file, process.stdout, process.stderr);
    },
  },
  { spec: REPLAY_COMMAND, run: async (args) => (await import('./replay.js')).replayCommand(args) },
  { spec: DEMO_COMMAND, run: async (args) => (await import('./demo.js')).demoCommand(args) },
  {
    spec: CONFIG_DOCS_COMMAND,
    run: async () => {
      process.stdout.write(`${configDocs()}\n`);
      return 0;
    },
  },
];

async function checkRules(args: CommandArgs): Promise<number> {
  if (args.positionals.length === 0) throw new UsageError('missing PATH');
  const { labelsOfConfigFile, runCheck } = await import('./check.js');
  const config = args.values.config;
  return runCheck(args.positionals, process.stdout, process.stderr, {
    unsupported: enumFlag(args, 'unsupported-rules', ['error', 'skip'], 'skip'),
    strict: booleanFlag(args, 'strict'),
    ...(typeof config === 'string' ? { labels: labelsOfConfigFile(config) } : {}),
  });
}

/** `check config FILE` and `check rules PATH...` are their own commands; every other is the first word. */
export function findCommand(argv: readonly string[]): { command: Command; rest: readonly string[] } | undefined {
  const two = argv.length >= 2 ? `${argv[0]} ${argv[1]}` : '';
  const byTwo = COMMANDS.find((c) => c.spec.name === two);
  if (byTwo !== undefined) return { command: byTwo, rest: argv.slice(2) };
  const byOne = COMMANDS.find((c) => c.spec.name === argv[0]);
  return byOne === undefined ? undefined : { command: byOne, rest: argv.slice(1) };
}
