/**
 * Stages that only touch labels or strip colours: `| drop`, `| keep`
 * (pkg/logql/log/drop_labels.go, keep_labels.go) and `| decolorize`
 * (fmt.go Decolorizer).
 */
import type { NamedMatcher } from '../ast.js';
import { ERROR_DETAILS_LABEL, ERROR_LABEL, type LabelsBuilder } from './labels-builder.js';
import type { Stage } from './stage.js';
import type { AnchoredRegexCompiler } from './label-filter.js';

type ValueTest = (v: string) => boolean;

function compileNamed(items: readonly NamedMatcher[], regex: AnchoredRegexCompiler): Array<{ name: string; test: ValueTest | undefined }> {
  return items.map((it) => {
    const m = it.matcher;
    if (m === undefined) return { name: it.name, test: undefined };
    const v = m.value;
    let test: ValueTest;
    switch (m.op) {
      case '=':
        test = (s) => s === v;
        break;
      case '!=':
        test = (s) => s !== v;
        break;
      case '=~': {
        const re = regex(v);
        test = re;
        break;
      }
      case '!~': {
        const re = regex(v);
        test = (s) => !re(s);
        break;
      }
    }
    return { name: it.name, test };
  });
}

/** `| drop a, b="x"`: removes the named labels (or those whose value matches); `__error__` clears the error. */
export class DropStage implements Stage {
  private readonly items: Array<{ name: string; test: ValueTest | undefined }>;
  constructor(items: readonly NamedMatcher[], regex: AnchoredRegexCompiler) {
    this.items = compileNamed(items, regex);
  }

  process(line: string, lb: LabelsBuilder): string {
    for (const { name, test } of this.items) {
      if (name === ERROR_LABEL || name === ERROR_DETAILS_LABEL) {
        const v = name === ERROR_LABEL ? lb.err : lb.errDetails;
        if (test === undefined || test(v)) lb.delete(name);
        continue;
      }
      if (test === undefined) {
        if (lb.get(name) !== undefined) lb.delete(name);
      } else if (test(lb.get(name) ?? '')) lb.delete(name);
    }
    return line;
  }
}

/** `| keep a, b="x"`: removes every other label; the error labels always stay. */
export class KeepStage implements Stage {
  private readonly items: Array<{ name: string; test: ValueTest | undefined }>;
  constructor(items: readonly NamedMatcher[], regex: AnchoredRegexCompiler) {
    this.items = compileNamed(items, regex);
  }

  process(line: string, lb: LabelsBuilder): string {
    if (this.items.length === 0) return line;
    const all = lb.labels();
    for (const name in all) {
      if (name === ERROR_LABEL || name === ERROR_DETAILS_LABEL || name === '__preserve_error__') continue;
      const v = all[name]!;
      const keep = this.items.some((it) => it.name === name && (it.test === undefined || it.test(v)));
      if (!keep) lb.delete(name);
    }
    return line;
  }
}

// fmt.go ansiPattern (from acarl005/stripansi); unambiguous, so a JS regex gives Go's matches.
const ANSI = /[\u001B\u009B][[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\u0007)|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PRZcf-ntqry=><~]))/g;

export class DecolorizeStage implements Stage {
  process(line: string): string {
    return line.includes('\u001b') || line.includes('\u009b') ? line.replace(ANSI, '') : line;
  }
}
