/**
 * Over 400 lines: one validation pass (rulefmt + LogQL + applicability) that reports file, group, rule and position together.
 * Load and validate rule files the way the Loki ruler (Prometheus rulefmt +
 * LogQL) does, reporting every problem with file, position, group and rule.
 *
 * Paths. A file path is loaded as is. A directory path loads, in name order:
 *   1. every regular file directly in it (a plain rule directory, or a
 *      Kubernetes ConfigMap mounted there), then
 *   2. every regular file in each sub-directory, one level deep: the Loki
 *      ruler's local layout `<dir>/<tenant>/<file>` (e.g. `rules/fake/`).
 * Entries whose names start with `.` are skipped at both levels; symlinks are
 * followed, so a ConfigMap mount (`x.yaml -> ..data/x.yaml`, `..data ->
 * ..2024_…`) loads each key once. A sub-directory named `library` is skipped:
 * it holds opt-in rules that load only when named explicitly
 * (`--rules rules/library/<file>` or `--rules rules/library`). Deeper
 * directories are ignored, as the Loki ruler ignores them. The same file
 * reached twice (by two paths, or through a symlink) loads once.
 * Documentation beside rules (`*.md`, `*.txt`, `README*`, `LICENSE*`) is not
 * a rule file when a directory is read: the repository's `rules/README.md`
 * lives next to the default rules. A file named explicitly always loads.
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node as YamlNode } from 'yaml';
import { parseDuration } from '../config/duration.js';
import type { Expr } from '../logql/ast.js';
import { LogQLError } from '../logql/ast.js';
import { parseExpr } from '../logql/parse.js';
import { checkEvaluable } from './rule-legs.js';
import {
  RuleLoadError,
  RuleLoadErrors,
  type AlertingRuleDef,
  type RecordingRuleDef,
  type RuleDef,
  type RuleGroupDef,
  type RuleLoadErrorInit,
  type RuleSet,
  type SkippedRule,
} from './rule-file.js';
import { TemplateError, compileTemplate } from '../gotemplate/template.js';
import { ruleApplicability, selectorTexts, type Applicability, type LabelUniverse } from './applicability.js';

export { RuleLoadError, RuleLoadErrors };

export interface LoadOptions {
  /** `error`: valid LogQL this engine cannot run fails the load. `skip`: leave such rules out and list them. */
  unsupported: 'error' | 'skip';
  /**
   * The labels this sidecar's streams can carry. When given, a rule whose
   * stream selectors can never match them is skipped as `not_applicable`
   * (never an error: the Loki ruler runs it fine on other streams).
   */
  labels?: LabelUniverse;
  /** Larger rule files are refused unread (rules.max_file_size; default DEFAULT_MAX_RULE_FILE_BYTES). */
  maxFileBytes?: number;
}

/** A homelab's rule files are kilobytes; a huge one is a mistake or garbage, and parsing it would stall the loop. */
export const DEFAULT_MAX_RULE_FILE_BYTES = 1024 * 1024;

/** What one file yields: its groups, the rules skipped, and every error found. */
export interface RuleFileResult {
  file: string;
  groups: RuleGroupDef[];
  skipped: SkippedRule[];
  errors: RuleLoadError[];
}

/** Directory names skipped when a directory is loaded (opt-in rules). */
export const OPT_IN_DIR = 'library';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

const GROUP_KEYS = ['name', 'interval', 'limit', 'rules'];
const RULE_KEYS = ['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'];

/**
 * Load every rule file under `paths`. Throws RuleLoadErrors holding every
 * error of every file when anything is wrong (nothing half-loaded).
 */
export async function loadRuleSet(paths: readonly string[], opts: LoadOptions): Promise<RuleSet> {
  const listed = await listRuleFiles(paths);
  const errors = [...listed.errors];
  const set: RuleSet = { groups: [], skipped: [], files: listed.files };
  for (const file of listed.files) {
    const r = await loadRuleFile(file, opts);
    errors.push(...r.errors);
    set.groups.push(...r.groups);
    set.skipped.push(...r.skipped);
  }
  if (errors.length > 0) throw new RuleLoadErrors(errors);
  return set;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
      return 'permission denied';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    default:
      return err.message;
  }
}

const DOCUMENTATION = /(\.(md|markdown|txt|rst)$)|(^|\/)(README|LICENSE|NOTICE)[^/]*$/i;

function isDocumentation(file: string): boolean {
  return DOCUMENTATION.test(file);
}

/** The rule files `paths` name, in load order (see the header for the layout rules). */
export async function listRuleFiles(paths: readonly string[]): Promise<{ files: string[]; errors: RuleLoadError[] }> {
  const files: string[] = [];
  const errors: RuleLoadError[] = [];
  const seen = new Set<string>();

  const add = async (file: string): Promise<void> => {
    let real: string;
    try {
      real = await realpath(file);
    } catch (e) {
      errors.push(new RuleLoadError({ file, reason: fsReason(e) }));
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    files.push(file);
  };

  /** Non-dot entries of a directory, followed through symlinks, split into files and directories. */
  const entries = async (dir: string): Promise<{ files: string[]; dirs: string[]; names: string[] }> => {
    const out = { files: [] as string[], dirs: [] as string[], names: [] as string[] };
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort(byName);
    } catch (e) {
      errors.push(new RuleLoadError({ file: dir, reason: fsReason(e) }));
      return out;
    }
    for (const name of names) {
      const full = join(dir, name);
      try {
        const st = await stat(full);
        if (st.isFile()) out.files.push(full);
        else if (st.isDirectory()) {
          out.dirs.push(full);
          out.names.push(name);
        }
        // Sockets, FIFOs and devices are not rule files.
      } catch (e) {
        // A dangling symlink (e.g. a ConfigMap key mid-update) is reported, like Loki does.
        errors.push(new RuleLoadError({ file: full, reason: fsReason(e) }));
      }
    }
    return out;
  };

  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch (e) {
      errors.push(new RuleLoadError({ file: p, reason: fsReason(e) }));
      continue;
    }
    if (st.isFile()) {
      await add(p);
      continue;
    }
    if (!st.isDirectory()) {
      errors.push(new RuleLoadError({ file: p, reason: 'not a regular file or directory' }));
      continue;
    }
    const top = await entries(p);
    for (const f of top.files) if (!isDocumentation(f)) await add(f);
    for (let i = 0; i < top.dirs.length; i++) {
      if (top.names[i] === OPT_IN_DIR) continue;
      const tenant = await entries(top.dirs[i]!);
      for (const f of tenant.files) if (!isDocumentation(f)) await add(f);
    }
  }
  return { files, errors };
}

/** Read and validate one rule file. Never throws for content problems: they are in `errors`. */
export async function loadRuleFile(file: string, opts: LoadOptions): Promise<RuleFileResult> {
  let text: string;
  try {
    const max = opts.maxFileBytes ?? DEFAULT_MAX_RULE_FILE_BYTES;
    const size = (await stat(file)).size;
    if (max > 0 && size > max) {
      return { file, groups: [], skipped: [], errors: [new RuleLoadError({ file, reason: `file is ${size} bytes, more than rules.max_file_size (${max} bytes)` })] };
    }
    text = await readFile(file, 'utf8');
  } catch (e) {
    return { file, groups: [], skipped: [], errors: [new RuleLoadError({ file, reason: fsReason(e) })] };
  }
  return parseRuleFile(file, text, opts);
}

type Pos = { line: number; column: number };
/** Group and rule an error belongs to. */
type ErrCtx = Omit<RuleLoadErrorInit, 'file' | 'reason'>;

interface Entry {
  key: string;
  keyNode: YamlNode;
  value: YamlNode | null;
}

/** Validates one file's text; `file` is used in messages and in the resulting definitions. */
export function parseRuleFile(file: string, text: string, opts: LoadOptions): RuleFileResult {
  return new RuleFileParser(file, text.replace(/^\uFEFF/, ''), opts).parse();
}

class RuleFileParser {
  private readonly lc = new LineCounter();
  private doc!: Document.Parsed;
  private readonly errors: RuleLoadError[] = [];
  private readonly skipped: SkippedRule[] = [];

  constructor(
    private readonly file: string,
    private readonly text: string,
    private readonly opts: LoadOptions,
  ) {}

  private pos(node: YamlNode | null | undefined): Pos | undefined {
    const offset = node?.range?.[0];
    if (offset === undefined) return undefined;
    const p = this.lc.linePos(offset);
    return { line: p.line, column: p.col };
  }

  private err(init: Omit<RuleLoadErrorInit, 'file'>, node?: YamlNode | null): void {
    const p = this.pos(node);
    this.errors.push(new RuleLoadError({ file: this.file, ...(p ? { line: p.line, column: p.column } : {}), ...init }));
  }

  /** Whether the rule can match this sidecar's streams (always, when no label universe is given). */
  private applicability(expr: Expr | undefined, exprText: string | undefined): Applicability {
    const labels = this.opts.labels;
    if (labels === undefined) return { applicable: true };
    if (expr !== undefined) return ruleApplicability(expr, labels);
    // Unsupported LogQL has no tree: judge the selectors found in its text.
    for (const t of selectorTexts(exprText ?? '')) {
      const e = parseSelectorText(t);
      const a = e === undefined ? undefined : ruleApplicability(e, labels);
      if (a !== undefined && !a.applicable) return a;
    }
    return { applicable: true };
  }

  parse(): RuleFileResult {
    const result = (groups: RuleGroupDef[]): RuleFileResult => ({ file: this.file, groups, skipped: this.skipped, errors: this.errors });
    const docs = parseAllDocuments(this.text, { lineCounter: this.lc, merge: true, uniqueKeys: true });
    if (!Array.isArray(docs) || docs.length === 0) return result([]); // empty file: no groups
    for (const d of docs) {
      for (const e of d.errors) {
        const lp = e.linePos?.[0];
        const reason = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        this.errors.push(new RuleLoadError({ file: this.file, ...(lp ? { line: lp.line, column: lp.col } : {}), reason: `YAML: ${reason}` }));
      }
    }
    if (this.errors.length > 0) return result([]);
    // Loki reads only the first document and silently ignores the rest; here that is an error.
    for (const d of docs.slice(1)) {
      if (d.contents !== null && !(isScalar(d.contents) && d.contents.value === null)) {
        this.err({ reason: 'more than one YAML document: the Loki ruler would ignore all but the first' }, d.contents);
      }
    }
    this.doc = docs[0]!;
    const root = this.doc.contents;
    if (root === null || (isScalar(root) && root.value === null)) return result([]);
    const top = this.mapEntries(root, 'the rule file');
    if (top === undefined) return result([]);
    let groupsNode: YamlNode | null = null;
    for (const e of top) {
      if (e.key === 'groups') groupsNode = e.value;
      else this.err({ reason: `unknown field ${JSON.stringify(e.key)} (a rule file has only "groups")` }, e.keyNode);
    }
    const groups: RuleGroupDef[] = [];
    const items = this.seqItems(groupsNode, 'groups');
    const names = new Set<string>();
    for (const g of items) {
      const group = this.group(g, names);
      if (group !== undefined) groups.push(group);
    }
    return result(this.errors.length > 0 ? [] : groups);
  }

  // ------------------------------------------------------------ YAML shapes

  private resolve(node: YamlNode | null): YamlNode | null {
    let n = node;
    for (let i = 0; n !== null && isAlias(n) && i < 100; i++) n = (n.resolve(this.doc) as YamlNode | undefined) ?? null;
    return n;
  }

  private describe(node: YamlNode | null): string {
    if (node === null || (isScalar(node) && node.value === null)) return 'nothing';
    if (isMap(node)) return 'a mapping';
    if (isSeq(node)) return 'a list';
    return `${JSON.stringify(this.scalarText(node))}`;
  }

  /** Mapping entries with string keys; merge keys (`<<`) expanded. Undefined (and an error) if not a mapping. */
  private mapEntries(node: YamlNode | null, what: string, ctx: ErrCtx = {}): Entry[] | undefined {
    const n = this.resolve(node);
    if (n === null || (isScalar(n) && n.value === null)) return [];
    if (!isMap(n)) {
      this.err({ ...ctx, reason: `${what}: expected a mapping, got ${this.describe(n)}` }, n);
      return undefined;
    }
    const out: Entry[] = [];
    const merged: Entry[] = [];
    for (const pair of n.items) {
      const keyNode = pair.key as YamlNode;
      if (isScalar(keyNode) && typeof keyNode.value === 'symbol') {
        // `<<: *anchor`: entries not set here come from the anchored mapping(s).
        const src = this.resolve(pair.value as YamlNode | null);
        const maps = src !== null && isSeq(src) ? src.items.map((x) => x as YamlNode) : [src];
        for (const m of maps) merged.push(...(this.mapEntries(m, what, ctx) ?? []));
        continue;
      }
      out.push({ key: this.scalarText(this.resolve(keyNode)), keyNode, value: (pair.value as YamlNode | null) ?? null });
    }
    for (const m of merged) if (!out.some((e) => e.key === m.key)) out.push(m);
    return out;
  }

  private seqItems(node: YamlNode | null, what: string, ctx: ErrCtx = {}): YamlNode[] {
    const n = this.resolve(node);
    if (n === null || (isScalar(n) && n.value === null)) return [];
    if (!isSeq(n)) {
      this.err({ ...ctx, reason: `${what}: expected a list, got ${this.describe(n)}` }, n);
      return [];
    }
    return n.items.map((x) => x as YamlNode);
  }

  private scalarText(node: YamlNode | null): string {
    if (node === null || !isScalar(node) || node.value === null || node.value === undefined) return '';
    // Go's YAML decoder puts any scalar's text into a string field (`name: 1.0` is "1.0").
    if (typeof node.value === 'string') return node.value;
    return node.source ?? String(node.value);
  }

  /** A string field; undefined (and an error) if it is a mapping or list. */
  private str(node: YamlNode | null, what: string, ctx: ErrCtx): string | undefined {
    const n = this.resolve(node);
    if (n !== null && !isScalar(n)) {
      this.err({ ...ctx, reason: `${what}: expected a string, got ${this.describe(n)}` }, n);
      return undefined;
    }
    return this.scalarText(n);
  }

  private duration(node: YamlNode | null, what: string, ctx: ErrCtx): number {
    const s = this.str(node, what, ctx);
    if (s === undefined || s === '') return 0;
    try {
      return parseDuration(s);
    } catch (e) {
      this.err({ ...ctx, reason: `${what}: ${(e as Error).message}` }, node);
      return 0;
    }
  }

  private stringMap(node: YamlNode | null, what: string, ctx: ErrCtx): Array<[string, string, YamlNode]> {
    const entries = this.mapEntries(node, what, ctx);
    if (entries === undefined) return [];
    const out: Array<[string, string, YamlNode]> = [];
    for (const e of entries) {
      const v = this.str(e.value, `${what} ${JSON.stringify(e.key)}`, ctx);
      if (v !== undefined) out.push([e.key, v, e.keyNode]);
    }
    return out;
  }

  // ------------------------------------------------------------ groups and rules

  private group(node: YamlNode, names: Set<string>): RuleGroupDef | undefined {
    const entries = this.mapEntries(node, 'group');
    if (entries === undefined) return undefined;
    const get = (k: string): Entry | undefined => entries.find((e) => e.key === k);
    const nameEntry = get('name');
    // undefined: not a string (already reported)
    const nameText = nameEntry ? this.str(nameEntry.value, 'name', {}) : '';
    const name = nameText ?? '';
    const ctx = name !== '' ? { group: name } : {};
    for (const e of entries) {
      if (!GROUP_KEYS.includes(e.key)) this.err({ ...ctx, reason: `unknown field ${JSON.stringify(e.key)} in group (known: ${GROUP_KEYS.join(', ')})` }, e.keyNode);
    }
    if (nameText === '') this.err({ reason: 'Groupname must not be empty' }, nameEntry?.value ?? node);
    else if (names.has(name)) this.err({ ...ctx, reason: `groupname: "${name}" is repeated in the same file` }, nameEntry!.value);
    names.add(name);

    const intervalMs = this.duration(get('interval')?.value ?? null, 'interval', ctx);
    let limit = 0;
    const limitEntry = get('limit');
    if (limitEntry !== undefined) {
      const n = this.resolve(limitEntry.value);
      if (n !== null && isScalar(n) && n.value !== null) {
        if (typeof n.value !== 'number' || !Number.isSafeInteger(n.value)) this.err({ ...ctx, reason: `limit: expected a whole number, got ${this.describe(n)}` }, n);
        // A negative limit means no limit, as in Prometheus (only > 0 is enforced).
        else limit = Math.max(0, n.value);
      } else if (n !== null && !isScalar(n)) this.err({ ...ctx, reason: `limit: expected a whole number, got ${this.describe(n)}` }, n);
    }

    const rules: RuleDef[] = [];
    this.seqItems(get('rules')?.value ?? null, 'rules', ctx).forEach((r, i) => {
      const rule = this.rule(r, name, i);
      if (rule !== undefined) rules.push(rule);
    });
    return { file: this.file, name, intervalMs, limit, rules };
  }

  private rule(node: YamlNode, group: string, index: number): RuleDef | undefined {
    const base = { group, ruleIndex: index + 1 };
    const entries = this.mapEntries(node, 'rule', base);
    if (entries === undefined) return undefined;
    const get = (k: string): Entry | undefined => entries.find((e) => e.key === k);
    const alertE = get('alert');
    const recordE = get('record');
    const alert = alertE ? (this.str(alertE.value, 'alert', base) ?? '') : '';
    const record = recordE ? (this.str(recordE.value, 'record', base) ?? '') : '';
    const name = alert !== '' ? alert : record;
    const ctx = { ...base, ...(name !== '' ? { rule: name } : {}) };
    const before = this.errors.length;
    let unsupported: { reason: string; node: YamlNode | null } | undefined;

    for (const e of entries) {
      if (!RULE_KEYS.includes(e.key)) this.err({ ...ctx, reason: `unknown field ${JSON.stringify(e.key)} in rule (known: ${RULE_KEYS.join(', ')})` }, e.keyNode);
    }
    if (alert !== '' && record !== '') this.err({ ...ctx, reason: "only one of 'record' and 'alert' must be set" }, recordE!.value);
    if (alert === '' && record === '') this.err({ ...ctx, reason: "one of 'record' or 'alert' must be set" }, node);

    // The expression.
    const exprE = get('expr');
    const exprText = exprE ? this.str(exprE.value, 'expr', ctx) : '';
    let expr: Expr | undefined;
    if (exprText === '') {
      this.err({ ...ctx, reason: "field 'expr' must be set in rule" }, exprE?.value ?? node);
    } else if (exprText !== undefined) {
      try {
        expr = parseExpr(exprText);
        checkEvaluable(expr); // every range on an exact evaluation grid (rule-legs.ts)
      } catch (e) {
        if (!(e instanceof LogQLError)) throw e;
        const msg = e.message.replace(/^\d+:\d+: /, '');
        const where = `expr ${e.pos.line}:${e.pos.column}: ${msg}`;
        if (e.unsupported) unsupported = { reason: `unsupported LogQL: ${where}`, node: exprE!.value };
        else this.err({ ...ctx, reason: `could not parse expression: ${where}` }, exprE!.value);
      }
    }

    const forMs = this.duration(get('for')?.value ?? null, 'for', ctx);
    const keepFiringForMs = this.duration(get('keep_firing_for')?.value ?? null, 'keep_firing_for', ctx);
    const labels = this.stringMap(get('labels')?.value ?? null, 'labels', ctx);
    const annotations = this.stringMap(get('annotations')?.value ?? null, 'annotations', ctx);

    if (record !== '') {
      if (annotations.length > 0) this.err({ ...ctx, reason: "invalid field 'annotations' in recording rule" }, recordE!.value);
      if (forMs !== 0) this.err({ ...ctx, reason: "invalid field 'for' in recording rule" }, recordE!.value);
      if (keepFiringForMs !== 0) this.err({ ...ctx, reason: "invalid field 'keep_firing_for' in recording rule" }, recordE!.value);
      if (!METRIC_NAME.test(record)) this.err({ ...ctx, reason: `invalid recording rule name: ${record}` }, recordE!.value);
      if (/[{}]/.test(record)) this.err({ ...ctx, reason: `braces present in the recording rule name; should it be in expr?: ${record}` }, recordE!.value);
    }
    for (const [k, v, keyNode] of labels) {
      if (!LABEL_NAME.test(k) || k === '__name__') this.err({ ...ctx, reason: `invalid label name: ${k}` }, keyNode);
      if (!isWellFormed(v)) this.err({ ...ctx, reason: `invalid label value: ${v}` }, keyNode);
    }
    for (const [k, , keyNode] of annotations) {
      if (!LABEL_NAME.test(k)) this.err({ ...ctx, reason: `invalid annotation name: ${k}` }, keyNode);
    }
    if (alert !== '' && record === '') {
      // Label values and annotations of alerting rules are templates: compile them now.
      const check = (kind: string, [k, v, keyNode]: [string, string, YamlNode]): void => {
        try {
          compileTemplate(v, { name: `__alert_${alert}` });
        } catch (e) {
          if (!(e instanceof TemplateError)) throw e;
          if (e.unsupported) unsupported ??= { reason: `${kind} ${JSON.stringify(k)}: ${e.message}`, node: keyNode };
          else this.err({ ...ctx, reason: `${kind} ${JSON.stringify(k)}: ${e.message}` }, keyNode);
        }
      };
      for (const l of labels) check('label', l);
      for (const a of annotations) check('annotation', a);
    }

    if (this.errors.length > before) return undefined;
    const line = this.pos(node)?.line ?? 0;
    const skip = { file: this.file, group, rule: name, kind: record !== '' ? ('record' as const) : ('alert' as const), exprText: exprText ?? '', index, line, labels: Object.fromEntries(labels.map(([k, v]) => [k, v])), annotations: Object.fromEntries(annotations.map(([k, v]) => [k, v])), forMs };
    const a = this.applicability(expr, exprText);
    if (!a.applicable) {
      // Before `unsupported`: a rule for other streams is never an error here, whatever LogQL it uses.
      this.skipped.push({ ...skip, cause: 'not_applicable', reason: a.reason, label: a.label });
      return undefined;
    }
    if (unsupported !== undefined) {
      if (this.opts.unsupported === 'skip') this.skipped.push({ ...skip, cause: 'unsupported', reason: unsupported.reason });
      else this.err({ ...ctx, reason: unsupported.reason, unsupported: true }, unsupported.node);
      return undefined;
    }
    const common = { name, expr: expr!, exprText: exprText!, labels: Object.fromEntries(labels.map(([k, v]) => [k, v])), file: this.file, group, index, line };
    if (record !== '') return { kind: 'record', ...common } satisfies RecordingRuleDef;
    return {
      kind: 'alert',
      ...common,
      forMs,
      keepFiringForMs,
      annotations: Object.fromEntries(annotations.map(([k, v]) => [k, v])),
    } satisfies AlertingRuleDef;
  }
}

/** Parse just a stream selector's text; undefined when it is not one on its own. */
function parseSelectorText(text: string): Expr | undefined {
  try {
    return parseExpr(`count_over_time(${text} [1m])`);
  } catch {
    return undefined;
  }
}

/** Label values must be valid UTF-8: no lone surrogates (YAML "\ud800" escapes make them). */
function isWellFormed(s: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);
}
