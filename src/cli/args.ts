/**
 * Command-line parsing on node:util parseArgs in strict mode: an unknown flag,
 * a flag without its value or an unexpected argument is a usage error (exit 2,
 * naming the flag), never silently ignored. Each command declares its flags;
 * the config flags come from the schema (`flag:` entries), so a new setting
 * with a flag is accepted by `run` without touching this file.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { FIELDS } from '../config/schema.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface CommandSpec {
  name: string;
  /** One-line summary for the general usage. */
  summary: string;
  /** Usage text of the command (after `Usage:`), flags explained. */
  usage: string;
  options: Options;
  /** Most positional arguments accepted (Infinity: any number). */
  maxPositionals: number;
}

export interface CommandArgs {
  readonly values: Readonly<Record<string, string | boolean | Array<string | boolean> | undefined>>;
  readonly positionals: readonly string[];
}

/** A command line that cannot be run: printed with the command's usage, exit 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage to print; the one being run when undefined. */
    readonly command?: CommandSpec,
  ) {
    super(message);
  }
}

const HELP: Options = { help: { type: 'boolean', short: 'h' } };

/** `--config` and every schema setting that has a flag; repeatable (the last value wins for single settings). */
export const CONFIG_OPTIONS: Options = Object.fromEntries([
  ['config', { type: 'string', multiple: true }],
  ...FIELDS.filter((f) => f.flag !== undefined).map((f) => [f.flag!.replace(/^--/, ''), { type: 'string', multiple: true }]),
]);

/** Parse one command's arguments; `undefined` when help was asked for. */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): CommandArgs | undefined {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: { ...spec.options, ...HELP }, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(describeParseError(e as Error & { code?: string }), spec);
  }
  if (parsed.values.help === true) return undefined;
  if (parsed.positionals.length > spec.maxPositionals) {
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[spec.maxPositionals])}`, spec);
  }
  return { values: parsed.values, positionals: parsed.positionals };
}

/** Node's messages are long and generic; keep the part that names the flag. */
function describeParseError(e: Error & { code?: string }): string {
  const flag = /'(-[^' ,]+)/.exec(e.message)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown flag ${flag ?? e.message}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (flag !== undefined && /argument missing/.test(e.message)) return `flag ${flag} needs a value`;
      if (flag !== undefined && /ambiguous/.test(e.message)) return `flag ${flag} needs a value (write ${flag}=VALUE for one that starts with "-")`;
      return e.message.split('\n')[0]!;
    default:
      return e.message;
  }
}

/** The config flags given, as loadConfig takes them: `--loki-url` → its values. */
export function configFlags(args: CommandArgs): Map<string, string[]> {
  const flags = new Map<string, string[]>();
  for (const name of Object.keys(CONFIG_OPTIONS)) {
    const v = args.values[name];
    if (Array.isArray(v)) flags.set(`--${name}`, v.map(String));
  }
  return flags;
}

/** Last value of a string flag (repeatable or not). */
export function stringFlag(args: CommandArgs, name: string): string | undefined {
  const v = args.values[name];
  const last = Array.isArray(v) ? v.at(-1) : v;
  return typeof last === 'string' ? last : undefined;
}

/** Every value of a repeatable string flag. */
export function stringsFlag(args: CommandArgs, name: string): string[] | undefined {
  const v = args.values[name];
  if (Array.isArray(v)) return v.map(String);
  return typeof v === 'string' ? [v] : undefined;
}

export function booleanFlag(args: CommandArgs, name: string): boolean {
  return args.values[name] === true;
}

/** Last value of a flag that takes one of `values`; a usage error otherwise. */
export function enumFlag<const T extends string>(args: CommandArgs, name: string, values: readonly T[], fallback: NoInfer<T>): T {
  const v = stringFlag(args, name);
  if (v === undefined) return fallback;
  if (!(values as readonly string[]).includes(v)) throw new UsageError(`flag --${name}: expected ${values.join(' or ')}, got ${JSON.stringify(v)}`);
  return v as T;
}
