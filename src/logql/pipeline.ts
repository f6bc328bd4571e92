/**
 * A selector's pipeline stages (everything after the hoisted line filters)
 * compiled into Stage objects run per line, plus the `unwrap` sample
 * extraction (pkg/logql/log/pipeline.go, metrics_extraction.go).
 */
import { type LabelFilterExpr, LogQLError, type PipelineStage, type Unwrap } from './ast.js';
import { compileChain } from './line-filter.js';
import { compileLabelRegex } from '../re2/re2.js';
import { IpFilter } from './stages/ip.js';
import { JsonExpressionParser, JsonParser, UnpackParser } from './stages/json.js';
import { type LabelPredicate, compileLabelFilter } from './stages/label-filter.js';
import { DecolorizeStage, DropStage, KeepStage } from './stages/label-stages.js';
import type { LabelsBuilder } from './stages/labels-builder.js';
import { LogfmtExpressionParser, LogfmtParser } from './stages/logfmt.js';
import { LinePattern, PatternParser } from './stages/pattern.js';
import { RegexpParser } from './stages/regexp.js';
import type { LineContext, Stage } from './stages/stage.js';
import { parseGoDurationSeconds, parseGoFloat, parseHumanBytes, type Parsed } from './stages/units.js';
import { FormatUnsupported, LabelFormatStage, LineFormatStage } from './stages/format.js';

export const SAMPLE_EXTRACTION_ERROR = 'SampleExtractionErr';

class FilterStage implements Stage {
  constructor(private readonly test: LabelPredicate) {}
  process(line: string, lb: LabelsBuilder): string | undefined {
    return this.test(lb) ? line : undefined;
  }
}

function compileStage(st: PipelineStage): Stage {
  switch (st.k) {
    case 'line_filter': {
      const chain = compileChain([st.filter]);
      return { process: (line) => (chain.test(line) ? line : undefined) };
    }
    case 'ip_line_filter': {
      const f = new IpFilter(st.pattern);
      const negate = st.negate;
      return { process: (line) => (f.test(line) !== negate ? line : undefined) };
    }
    case 'pattern_line_filter': {
      const ps = st.patterns.map((p) => new LinePattern(p));
      const negate = st.negate;
      return { process: (line) => (ps.some((p) => p.test(line)) !== negate ? line : undefined) };
    }
    case 'json':
      return st.exprs === undefined ? new JsonParser() : new JsonExpressionParser(st.exprs);
    case 'logfmt':
      return st.exprs === undefined ? new LogfmtParser(st.strict, st.keepEmpty) : new LogfmtExpressionParser(st.exprs, st.strict);
    case 'regexp':
      return new RegexpParser(st.pattern);
    case 'pattern':
      return new PatternParser(st.pattern);
    case 'unpack':
      return new UnpackParser();
    case 'label_filter':
      return new FilterStage(compileLabelFilter(st.filter, compileLabelRegex));
    case 'line_format':
      return new LineFormatStage(st.template);
    case 'label_format':
      return new LabelFormatStage(st.items);
    case 'decolorize':
      return new DecolorizeStage();
    case 'drop':
      return new DropStage(st.items, compileLabelRegex);
    case 'keep':
      return new KeepStage(st.items, compileLabelRegex);
  }
}

/** Compiles the stages; construction errors (bad template, pattern …) become LogQLErrors at the stage. */
export function compileStages(stages: readonly PipelineStage[]): Stage[] {
  return stages.map((st) => {
    try {
      return compileStage(st);
    } catch (e) {
      if (e instanceof LogQLError) throw e;
      const pos = 'pos' in st ? st.pos : st.filter.pos;
      throw new LogQLError((e as Error).message, pos, e instanceof FormatUnsupported);
    }
  });
}

/** Runs the stages; the final line, or undefined when a stage dropped it. */
export function runStages(stages: readonly Stage[], line: string, lb: LabelsBuilder, ctx: LineContext): string | undefined {
  let l: string | undefined = line;
  for (let i = 0; i < stages.length && l !== undefined; i++) l = stages[i]!.process(l, lb, ctx);
  return l;
}

const CONVERT: Record<Unwrap['conv'], (s: string) => Parsed> = {
  '': parseGoFloat,
  duration: parseGoDurationSeconds,
  duration_seconds: parseGoDurationSeconds,
  bytes: parseHumanBytes,
};

/**
 * `| unwrap` (labelSampleExtractor.Process): the label's value converted; an
 * absent or empty label yields no sample; a conversion error yields 0 with
 * `__error__="SampleExtractionErr"`; then the post-filters decide.
 */
export class UnwrapExtractor {
  private readonly conv: (s: string) => Parsed;
  private readonly post: LabelPredicate[];
  constructor(readonly unwrap: Unwrap) {
    this.conv = CONVERT[unwrap.conv];
    this.post = unwrap.postFilters.map((f: LabelFilterExpr) => compileLabelFilter(f, compileLabelRegex));
  }

  /** The sample value, or undefined when the line yields no sample. */
  extract(lb: LabelsBuilder): number | undefined {
    const s = lb.get(this.unwrap.label);
    if (s === undefined || s === '') return undefined;
    const r = this.conv(s);
    let v = 0;
    if (r.ok) v = r.value;
    else lb.setError(SAMPLE_EXTRACTION_ERROR, r.error);
    for (const p of this.post) if (!p(lb)) return undefined;
    return v;
  }
}

