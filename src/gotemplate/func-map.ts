/** What a template can call: Go's builtins and Prometheus's functions (Prometheus adds its FuncMap to text/template's). */
import { GO_BUILTINS, type FuncDef } from './funcs.js';
import { PROMETHEUS_FUNCS } from './prometheus-funcs.js';

export const FUNCS: ReadonlyMap<string, FuncDef> = new Map([...GO_BUILTINS, ...PROMETHEUS_FUNCS]);
