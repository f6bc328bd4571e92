/**
 * `| line_format "{{.status}} {{.path}}"` and
 * `| label_format dst=src, dst="{{ … }}"` (pkg/logql/log/fmt.go
 * LineFormatter, LabelsFormatter), on the product's Go-template engine with
 * Loki's function set (template-funcs.ts) and `missingkey=zero`: the data
 * is the line's labels as a map (errors included), `__line__` is the
 * current line. An execution error sets `__error__="TemplateFormatErr"`
 * and keeps the line (line_format) or skips that label (label_format).
 */
import type { LabelFormatItem } from '../ast.js';
import { type Template, TemplateError, TemplateExecError, compileTemplate } from '../../gotemplate/template.js';
import { GoMap } from '../../gotemplate/values.js';
import { Category, ERROR_LABEL, type LabelsBuilder } from './labels-builder.js';
import type { LineContext, Stage } from './stage.js';
import { LOKI_TEMPLATE_FUNCS } from './template-funcs.js';

export const TEMPLATE_FORMAT_ERROR = 'TemplateFormatErr';

/** A template this engine cannot run (Go time values …): the rule is refused as unsupported. */
export class FormatUnsupported extends Error {}

function compile(text: string, name: string, what: string): Template {
  try {
    return compileTemplate(text, { name, funcs: LOKI_TEMPLATE_FUNCS, vars: [], prefixLength: 0 });
  } catch (e) {
    if (e instanceof TemplateError) {
      const msg = `${what}: template: ${name}:${e.line}:${e.column}: ${e.reason}`;
      if (e.unsupported) throw new FormatUnsupported(msg);
      throw new Error(msg);
    }
    throw e;
  }
}

/** `{{.name}}` alone: Loki's shortcut returns the label's value directly. */
const SIMPLE_KEY = /^\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/;

export class LineFormatStage implements Stage {
  private readonly tmpl: Template;
  private readonly simpleKey: string | undefined;

  constructor(readonly template: string) {
    this.tmpl = compile(template, 'line', 'invalid line template');
    this.simpleKey = SIMPLE_KEY.exec(template)?.[1];
  }

  process(line: string, lb: LabelsBuilder, ctx: LineContext): string {
    if (this.simpleKey !== undefined) return lb.get(this.simpleKey) ?? '';
    try {
      return this.tmpl.execute(new GoMap(lb.labels()), { externalURL: '', logLine: line, logTimeMs: ctx.timeMs, logTimeNsRem: ctx.timeNsRem });
    } catch (e) {
      if (!(e instanceof TemplateExecError)) throw e;
      lb.setError(TEMPLATE_FORMAT_ERROR, e.message);
      return line;
    }
  }
}

interface LabelFormatter {
  dst: string;
  rename: string | undefined;
  tmpl: Template | undefined;
}

export class LabelFormatStage implements Stage {
  private readonly formats: LabelFormatter[];

  constructor(items: readonly LabelFormatItem[]) {
    const seen = new Set<string>();
    for (const it of items) {
      if (it.dst === ERROR_LABEL) throw new Error(`${ERROR_LABEL} cannot be formatted`);
      if (seen.has(it.dst)) throw new Error(`multiple label name '${it.dst}' not allowed in a single format operation`);
      seen.add(it.dst);
    }
    this.formats = items.map((it) => ({
      dst: it.dst,
      rename: it.rename,
      tmpl: it.template !== undefined ? compile(it.template, 'label', `invalid template for label '${it.dst}'`) : undefined,
    }));
  }

  process(line: string, lb: LabelsBuilder, ctx: LineContext): string {
    // fmt.go: the template data is taken once, before the first template runs.
    let data: GoMap | undefined;
    for (const f of this.formats) {
      if (f.rename !== undefined) {
        const v = lb.get(f.rename);
        if (v !== undefined) {
          lb.set(Category.Parsed, f.dst, v);
          lb.delete(f.rename);
        }
        continue;
      }
      data ??= new GoMap(lb.labels());
      try {
        const v = f.tmpl!.execute(data, { externalURL: '', logLine: line, logTimeMs: ctx.timeMs, logTimeNsRem: ctx.timeNsRem });
        lb.set(Category.Parsed, f.dst, v);
      } catch (e) {
        if (!(e instanceof TemplateExecError)) throw e;
        lb.setError(TEMPLATE_FORMAT_ERROR, e.message);
      }
    }
    return line;
  }
}
