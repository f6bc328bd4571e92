/** The parse tree (Go's text/template/parse/node.go) and its String() forms, which execution errors quote. */
import type { FuncDef } from './funcs.js';
import type { GoValue } from './values.js';


export type Operand =
  | { t: 'field'; idents: string[]; pos: number }
  | { t: 'var'; name: string; idents: string[]; pos: number }
  | { t: 'dot'; pos: number }
  | { t: 'nil'; pos: number }
  | { t: 'bool'; v: boolean; pos: number }
  | { t: 'number'; text: string; ideal: GoValue | Error; pos: number }
  | { t: 'string'; text: string; v: string; pos: number }
  | { t: 'ident'; name: string; fn: FuncDef; pos: number }
  | { t: 'pipe'; pipe: Pipe; pos: number }
  | { t: 'chain'; node: Operand; fields: string[]; pos: number };

export interface Command {
  args: Operand[];
  pos: number;
}

export interface Pipe {
  decl: string[];
  isAssign: boolean;
  cmds: Command[];
  pos: number;
}

export interface ControlNode {
  t: 'if' | 'with' | 'range';
  pipe: Pipe;
  list: Node[];
  elseList: Node[] | undefined;
  pos: number;
}

export type Node = { t: 'text'; text: string } | { t: 'action'; pipe: Pipe; pos: number } | ControlNode | { t: 'break' | 'continue'; pos: number };

// Go's node String() forms, for "at <…>" in execution errors.
export function operandString(o: Operand): string {
  switch (o.t) {
    case 'field':
      return '.' + o.idents.join('.');
    case 'var':
      return [o.name, ...o.idents].join('.');
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'bool':
      return String(o.v);
    case 'number':
    case 'string':
      return o.text;
    case 'ident':
      return o.name;
    case 'pipe':
      return `(${pipeString(o.pipe)})`;
    case 'chain':
      return operandString(o.node) + '.' + o.fields.join('.');
  }
}

export function commandString(c: Command): string {
  return c.args.map(operandString).join(' ');
}

function pipeString(p: Pipe): string {
  const decl = p.decl.length > 0 ? `${p.decl.join(', ')} ${p.isAssign ? '=' : ':='} ` : '';
  return decl + p.cmds.map(commandString).join(' | ');
}
