/**
 * Template execution (Go's text/template/exec.go): walks the tree with the
 * alert's data, Go's truth and comparison rules, variables and scopes,
 * bounded in steps and output; errors carry Go's "at <…>" context.
 */
import { isTrue, type CallContext, type ParamType } from './funcs.js';
import { sprint } from './fmt.js';
import { ALERT_DATA_TYPE, AlertData, GoMap, GoTime, type GoValue } from './values.js';
import { commandString, operandString, type Command, type ControlNode, type Node, type Operand, type Pipe } from './node.js';

/** Execution budget: every template here terminates, but nested ranges could take long. */
const MAX_STEPS = 100_000;
/** Longest rendered text; a label or annotation beyond this is an error, not a memory hazard. */
export const MAX_OUTPUT = 64 * 1024;

/** What execution errors name: the template and a position in Go's ErrorContext form. */
export interface ExecSource {
  readonly name: string;
  goPosition(pos: number): { line: number; col: number };
}

export class ExecError extends Error {}
const BREAK = { signal: 'break' } as const;
const CONTINUE = { signal: 'continue' } as const;
/** "no value passed": the final-argument slot of a command outside a pipeline. */
const MISSING = Symbol('missing');
type Final = GoValue | typeof MISSING;

type AtNode = Operand | Command;

export class Exec {
  out = '';
  private steps = 0;
  private vars: Array<[string, GoValue]>;
  private at: AtNode | undefined;

  constructor(
    private readonly tmpl: ExecSource,
    root: GoValue,
    private readonly ctx: CallContext,
  ) {
    // Prometheus's alert data brings its variables; other data (LogQL's line_format map) only `$`.
    this.vars =
      root instanceof AlertData
        ? [
            ['$', root],
            ['$labels', root.Labels],
            ['$externalLabels', root.ExternalLabels],
            ['$externalURL', root.ExternalURL],
            ['$value', root.Value],
            ['$lines', root.Lines],
          ]
        : [['$', root]];
  }

  private error(message: string): never {
    const node = this.at;
    const name = this.tmpl.name;
    let where = '';
    if (node !== undefined) {
      const { line, col } = this.tmpl.goPosition(node.pos);
      const str = 'args' in node ? commandString(node) : operandString(node);
      where = `${name}:${line}:${col}: executing "${name}" at <${str}>: `;
    }
    throw new ExecError(`template: ${where}${message}`);
  }

  private step(): void {
    if (++this.steps > MAX_STEPS) this.error(`execution exceeded ${MAX_STEPS} steps`);
  }

  private write(s: string): void {
    this.out += s;
    if (this.out.length > MAX_OUTPUT) this.error(`output exceeds ${MAX_OUTPUT} characters`);
  }

  walk(dot: GoValue, list: readonly Node[]): void {
    for (const node of list) {
      this.step();
      switch (node.t) {
        case 'text':
          this.write(node.text);
          break;
        case 'action': {
          const v = this.evalPipeline(dot, node.pipe);
          if (node.pipe.decl.length === 0) this.write(printValue(v));
          break;
        }
        case 'if':
        case 'with': {
          const mark = this.vars.length;
          const v = this.evalPipeline(dot, node.pipe);
          if (isTrue(v)) this.walk(node.t === 'with' ? v : dot, node.list);
          else if (node.elseList !== undefined) this.walk(dot, node.elseList);
          this.vars.length = mark;
          break;
        }
        case 'range':
          this.walkRange(dot, node);
          break;
        case 'break':
          throw BREAK;
        case 'continue':
          throw CONTINUE;
      }
    }
  }

  private walkRange(dot: GoValue, node: ControlNode): void {
    const mark = this.vars.length;
    const val = this.evalPipeline(dot, node.pipe);
    const decl = node.pipe.decl;
    const iterate = (key: GoValue, elem: GoValue): boolean => {
      // One variable: the element; two: index/key then element.
      if (decl.length > 0) this.setVar(decl[decl.length - 1]!, elem, node.pipe.isAssign, true);
      if (decl.length > 1) this.setVar(decl[0]!, key, node.pipe.isAssign, true);
      const inner = this.vars.length;
      try {
        this.walk(elem, node.list);
      } catch (e) {
        if (e === BREAK) return false;
        if (e !== CONTINUE) throw e;
      } finally {
        this.vars.length = inner;
      }
      return true;
    };
    let ran = false;
    if (val instanceof GoMap) {
      for (const k of val.sortedKeys()) {
        ran = true;
        if (!iterate(k, val.entries[k]!)) break;
      }
    } else if (val !== null) {
      this.error(`range can't iterate over ${sprint([val])}`);
    }
    if (!ran && node.elseList !== undefined) this.walk(dot, node.elseList);
    this.vars.length = mark;
  }

  private setVar(name: string, v: GoValue, isAssign: boolean, top: boolean): void {
    if (isAssign) {
      for (let k = this.vars.length - 1; k >= 0; k--) {
        if (this.vars[k]![0] === name) {
          this.vars[k]![1] = v;
          return;
        }
      }
      this.error(`undefined variable: ${name}`);
    }
    if (top) {
      // range variables were declared by evalPipeline; overwrite the newest binding.
      for (let k = this.vars.length - 1; k >= 0; k--) {
        if (this.vars[k]![0] === name) {
          this.vars[k]![1] = v;
          return;
        }
      }
    }
    this.vars.push([name, v]);
  }

  private varValue(name: string): GoValue {
    for (let k = this.vars.length - 1; k >= 0; k--) if (this.vars[k]![0] === name) return this.vars[k]![1];
    return this.error(`undefined variable: ${name}`);
  }

  private evalPipeline(dot: GoValue, pipe: Pipe): GoValue {
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    const v = value === MISSING ? null : value;
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.setVar(name, v, true, false);
      else this.vars.push([name, v]);
    }
    return v;
  }

  private notAFunction(args: readonly Operand[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.error(`can't give argument to non-function ${operandString(args[0]!)}`);
  }

  private evalCommand(dot: GoValue, cmd: Command, final: Final): GoValue {
    this.step();
    const first = cmd.args[0]!;
    switch (first.t) {
      case 'field':
        this.at = first;
        return this.evalFieldChain(dot, dot, first, first.idents, cmd.args, final);
      case 'chain': {
        this.at = first;
        const recv = this.evalArg(dot, 'any', first.node);
        return this.evalFieldChain(dot, recv, first, first.fields, cmd.args, final);
      }
      case 'ident':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first.pipe);
      case 'var':
        return this.evalVariable(dot, first, cmd.args, final);
    }
    this.at = first;
    this.notAFunction(cmd.args, final);
    switch (first.t) {
      case 'bool':
        return first.v;
      case 'dot':
        return dot;
      case 'nil':
        return this.error('nil is not a command');
      case 'number':
        return this.ideal(first);
      case 'string':
        return first.v;
    }
  }

  private ideal(n: Extract<Operand, { t: 'number' }>): GoValue {
    if (n.ideal instanceof Error) this.error(n.ideal.message);
    return n.ideal;
  }

  private evalVariable(dot: GoValue, v: Extract<Operand, { t: 'var' }>, args: readonly Operand[] | undefined, final: Final): GoValue {
    this.at = v;
    const value = this.varValue(v.name);
    if (v.idents.length === 0) {
      if (args !== undefined) this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, v.idents, args, final);
  }

  private evalFieldChain(
    dot: GoValue,
    receiver: GoValue,
    node: Operand,
    idents: readonly string[],
    args: readonly Operand[] | undefined,
    final: Final,
  ): GoValue {
    // Like Go, no s.at here: an error names the node evaluated last.
    let r = receiver;
    for (let k = 0; k < idents.length - 1; k++) r = this.evalField(idents[k]!, false, r);
    const hasArgs = (args !== undefined && args.length > 1) || final !== MISSING;
    return this.evalField(idents[idents.length - 1]!, hasArgs, r);
  }

  private evalField(name: string, hasArgs: boolean, receiver: GoValue): GoValue {
    if (receiver === null) return null;
    if (receiver instanceof AlertData && (name === 'Labels' || name === 'ExternalLabels' || name === 'ExternalURL' || name === 'Value')) {
      if (hasArgs) this.error(`${name} has arguments but cannot be invoked as function`);
      return receiver[name];
    }
    if (receiver instanceof GoMap) {
      if (hasArgs) this.error(`${name} is not a method but has arguments`);
      return receiver.get(name);
    }
    const type = receiver instanceof AlertData ? ALERT_DATA_TYPE : goTypeOf(receiver);
    return this.error(`can't evaluate field ${name} in type ${type}`);
  }

  private evalFunction(dot: GoValue, node: Extract<Operand, { t: 'ident' }>, cmd: Command | Operand, args: readonly Operand[] | undefined, final: Final): GoValue {
    this.at = node;
    const fn = node.fn;
    const name = node.name;
    const given = args === undefined ? [] : args.slice(1);
    const numIn = given.length + (final === MISSING ? 0 : 1);
    let numFixed = given.length;
    if (fn.variadic !== undefined) {
      numFixed = fn.params.length;
      if (numIn < numFixed) this.error(`wrong number of args for ${name}: want at least ${numFixed} got ${given.length}`);
    } else if (numIn !== fn.params.length) {
      this.error(`wrong number of args for ${name}: want ${fn.params.length} got ${numIn}`);
    }
    if (fn.shortCircuit !== undefined) {
      let v: GoValue = null;
      for (const a of given) {
        v = this.evalArg(dot, 'any', a);
        if (isTrue(v) === (fn.shortCircuit === 'or')) return v;
      }
      if (final !== MISSING) v = final;
      return v;
    }
    const argv: GoValue[] = [];
    let k = 0;
    for (; k < numFixed && k < given.length; k++) argv.push(this.evalArg(dot, fn.params[k]!, given[k]!));
    for (; k < given.length; k++) argv.push(this.evalArg(dot, fn.variadic!, given[k]!));
    if (final !== MISSING) {
      const t = numIn - 1 < fn.params.length ? fn.params[numIn - 1]! : fn.variadic!;
      argv.push(this.validateType(final, t));
    }
    try {
      return fn.call(argv, this.ctx);
    } catch (e) {
      if (e instanceof ExecError) throw e;
      this.at = cmd;
      return this.error(`error calling ${name}: ${(e as Error).message}`);
    }
  }

  private validateType(v: GoValue, t: ParamType): GoValue {
    if (t === 'any') return v;
    if (v === null) this.error('invalid value; expected string');
    if (typeof v !== 'string') this.error(`wrong type for value; expected string; got ${goTypeOf(v)}`);
    return v;
  }

  private evalArg(dot: GoValue, t: ParamType, n: Operand): GoValue {
    this.at = n;
    switch (n.t) {
      case 'dot':
        return this.validateType(dot, t);
      case 'nil':
        if (t === 'any') return null;
        return this.error('cannot assign nil to string');
      case 'field':
        return this.validateType(this.evalFieldChain(dot, dot, n, n.idents, [n], MISSING), t);
      case 'var':
        return this.validateType(this.evalVariable(dot, n, undefined, MISSING), t);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n.pipe), t);
      case 'ident':
        return this.validateType(this.evalFunction(dot, n, n, undefined, MISSING), t);
      case 'chain': {
        this.at = n;
        const recv = this.evalArg(dot, 'any', n.node);
        return this.validateType(this.evalFieldChain(dot, recv, n, n.fields, undefined, MISSING), t);
      }
    }
    if (t === 'string') {
      if (n.t === 'string') return n.v;
      return this.error(`expected string; found ${operandString(n)}`);
    }
    switch (n.t) {
      case 'bool':
        return n.v;
      case 'number':
        return this.ideal(n);
      case 'string':
        return n.v;
    }
  }
}

function goTypeOf(v: GoValue): string {
  if (v === null) return 'nil';
  if (v instanceof AlertData) return ALERT_DATA_TYPE;
  if (v instanceof GoMap) return 'map[string]string';
  if (v instanceof GoTime) return 'time.Time';
  return typeof v === 'string' ? 'string' : typeof v === 'number' ? 'float64' : typeof v === 'bigint' ? 'int' : 'bool';
}

/** How text/template prints an action's value: fmt.Print, `<no value>` for nothing. */
function printValue(v: GoValue): string {
  if (v === null) return '<no value>';
  if (typeof v === 'string') return v;
  return sprint([v]);
}
