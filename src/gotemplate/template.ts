/**
 * Alert label and annotation templates: the part of Go's text/template that
 * Prometheus (and so the Loki ruler) alert templates use, parsed once and
 * rendered per alert.
 *
 * Same as Prometheus: the variables `$labels`, `$value`, `$externalLabels`,
 * `$externalURL` and the data `.Labels`, `.Value`, `.ExternalLabels`,
 * `.ExternalURL`; option missingkey=zero (a missing label is ""); actions
 * `if`/`else if`/`else`/`with`/`range`/`break`/`continue`, variables, pipelines,
 * parentheses, trim markers `{{-`/`-}}`, comments; Go's builtins and
 * Prometheus's functions (funcs.ts); values print as Go's fmt does
 * (fmt.ts). A render never throws: an execution error becomes
 * Prometheus's `<error expanding template: …>` text, with the same position
 * (Prometheus prepends 112 characters of variable definitions to line 1).
 * Not here: `define`/`template`/`block`, methods, and functions needing a
 * query engine; those fail to compile, flagged `unsupported`.
 */
import { AlertData, GoMap, type GoValue } from './values.js';
import type { CallContext, FuncDef } from './funcs.js';
import { Exec, ExecError } from './exec.js';
import { lex, LexError } from './lex.js';
import type { Node } from './node.js';
import { Parser, TemplateCompileFailure } from './parse.js';

export { MAX_OUTPUT } from './exec.js';

export interface TemplateData {
  labels: Readonly<Record<string, string>>;
  value: number;
  externalLabels: Readonly<Record<string, string>>;
  externalURL: string;
  /** `$lines` (sidecar extension, issue #18): the alert's evidence lines; the Loki ruler has no such variable. */
  lines?: string;
}

export interface Template {
  readonly text: string;
  /** True when the text has no actions (render returns it as is). */
  readonly isStatic: boolean;
  render(data: TemplateData): string;
  /**
   * Execute with `dot` as the data (and `$`), for templates compiled with
   * other functions and variables (LogQL's line_format/label_format). Throws
   * TemplateExecError with Go's "template: name:line:col: …" message.
   */
  execute(dot: GoValue, ctx: CallContext): string;
}

/** An execution error of `execute` (Go's template.ExecError text). */
export class TemplateExecError extends Error {}

/** A template that does not parse (or uses something this engine does not run). */
export class TemplateError extends Error {
  constructor(
    readonly reason: string,
    /** 1-based, in the template text. */
    readonly line: number,
    readonly column: number,
    readonly unsupported: boolean,
  ) {
    super(`template: ${line}:${column}: ${reason}`);
    this.name = 'TemplateError';
  }
}

export interface CompileOptions {
  /** Template name used in execution errors; Prometheus uses `__alert_<alertname>`. */
  name?: string;
  /** The function map (default: Go builtins + Prometheus's). */
  funcs?: ReadonlyMap<string, FuncDef>;
  /** Predefined variables (default: Prometheus's `$labels`, `$value`, …); `$` is always defined. */
  vars?: readonly string[];
  /** Characters Go sees before the text on line 1 (Prometheus prepends variable definitions); default Prometheus's. */
  prefixLength?: number;
}

const utf8 = new TextEncoder();

/** Length of Prometheus's `{{$labels := .Labels}}{{$externalLabels := …}}…` prefix, for error columns. */
const PROMETHEUS_PREFIX_LEN = 112;


class CompiledTemplate implements Template {
  readonly isStatic: boolean;
  private readonly lineStarts: number[];

  constructor(
    readonly text: string,
    readonly name: string,
    private readonly root: Node[],
    private readonly prefixLength = PROMETHEUS_PREFIX_LEN,
  ) {
    this.isStatic = !text.includes('{{');
    this.lineStarts = [0];
    for (let k = 0; k < text.length; k++) if (text[k] === '\n') this.lineStarts.push(k + 1);
  }

  /** Position as Go's ErrorContext prints it for Prometheus's template (0-based byte column, prefix on line 1). */
  goPosition(pos: number): { line: number; col: number } {
    let line = 0;
    while (line + 1 < this.lineStarts.length && this.lineStarts[line + 1]! <= pos) line++;
    const start = this.lineStarts[line]!;
    const col = utf8.encode(this.text.slice(start, pos)).length;
    return { line: line + 1, col: line === 0 ? col + this.prefixLength : col };
  }

  render(data: TemplateData): string {
    if (this.isStatic) return this.text;
    const root = new AlertData(new GoMap(data.labels), new GoMap(data.externalLabels), data.externalURL, data.value, data.lines);
    const exec = new Exec(this, root, { externalURL: data.externalURL });
    try {
      exec.walk(root, this.root);
      return exec.out;
    } catch (e) {
      // Prometheus: it is better to have a broken annotation than no alert.
      const msg = e instanceof ExecError ? e.message : String((e as Error)?.message ?? e);
      return `<error expanding template: error executing template ${this.name}: ${msg}>`;
    }
  }

  execute(dot: GoValue, ctx: CallContext): string {
    if (this.isStatic) return this.text;
    const exec = new Exec(this, dot, ctx);
    try {
      exec.walk(dot, this.root);
      return exec.out;
    } catch (e) {
      throw new TemplateExecError(e instanceof ExecError ? e.message : String((e as Error)?.message ?? e));
    }
  }
}

function position(text: string, pos: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < pos && k < text.length; k++) {
    if (text[k] === '\n') {
      line++;
      lineStart = k + 1;
    }
  }
  return { line, column: pos - lineStart + 1 };
}

/**
 * Parse a template once. Throws TemplateError (with line/column in `text`)
 * when it does not parse, or uses a function or action this engine does not run
 * (`unsupported: true`).
 */
export function compileTemplate(text: string, opts: CompileOptions = {}): Template {
  const name = opts.name ?? '__alert_';
  const prefix = opts.prefixLength ?? PROMETHEUS_PREFIX_LEN;
  if (!text.includes('{{')) return new CompiledTemplate(text, name, text === '' ? [] : [{ t: 'text', text }], prefix);
  try {
    const root = opts.funcs === undefined && opts.vars === undefined ? new Parser(lex(text), text).parse() : new Parser(lex(text), text, opts.funcs, opts.vars).parse();
    return new CompiledTemplate(text, name, root, prefix);
  } catch (e) {
    if (e instanceof LexError || e instanceof TemplateCompileFailure) {
      const { line, column } = position(text, e.pos);
      throw new TemplateError(e.message, line, column, e instanceof TemplateCompileFailure && e.unsupported);
    }
    throw e;
  }
}
