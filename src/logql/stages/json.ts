/**
 * `| json`, `| json a="x.y", b="z[0]"` and `| unpack`
 * (pkg/logql/log/parser.go JSONParser, JSONExpressionParser, UnpackParser).
 *
 * `json` flattens every scalar member: nested object keys are joined with
 * `_`, each part sanitised (parser.go buildSanitizedPrefixFromBuffer,
 * util.go appendSanitized); whitespace-only parts are skipped; arrays and
 * nulls are not extracted; a name that collides with a stream label or
 * structured metadata gets `_extracted`. Invalid JSON sets
 * `__error__="JSONParserErr"` with jsonparser's message in
 * `__error_details__`; members before the error stay extracted and the line
 * is kept.
 */
import type { ExtractionExpr } from '../ast.js';
import { Category, type LabelsBuilder } from './labels-builder.js';
import { type Stage, isValidLabelName, sanitizeLabelKey } from './stage.js';
import { JsonScanError, type JsonValue, arrayElement, eachMember, jsonStringValue, nextToken, unescapeJson } from './json-scan.js';

export const JSON_ERROR = 'JSONParserErr';

const NOT_LABEL_CHAR = /[^A-Za-z0-9_]/gu;

/** appendSanitized: trimmed part, `_` for each other character, `_` before a leading digit at the start. */
function appendSanitized(to: string, part: string): string {
  const k = part.trim();
  if (k === '') return to;
  const lead = to === '' && k.charCodeAt(0) >= 0x30 && k.charCodeAt(0) <= 0x39 ? '_' : '';
  return to + lead + k.replace(NOT_LABEL_CHAR, '_');
}

function scalar(s: string, v: JsonValue): string {
  switch (v.type) {
    case 'string':
      return jsonStringValue(s.slice(v.start, v.end));
    case 'number':
      return s.slice(v.start, v.end);
    case 'boolean':
      return s.charCodeAt(v.start) === 0x74 ? 'true' : 'false';
    default:
      return '';
  }
}

export class JsonParser implements Stage {
  process(line: string, lb: LabelsBuilder): string {
    if (lb.hints.noLabels(lb)) return line;
    try {
      this.walk(line, 0, line.length, [], lb);
    } catch (e) {
      if (!(e instanceof JsonScanError)) throw e;
      lb.setParserError(JSON_ERROR, e.message);
    }
    return line;
  }

  /** Returns true when parsing stopped because every required label is extracted (no error then, as Loki). */
  private walk(s: string, from: number, to: number, prefix: string[], lb: LabelsBuilder): boolean {
    const hints = lb.hints;
    let stop = false;
    eachMember(s, from, to, (key, v) => {
      if (v.type === 'object') {
        prefix.push(key);
        if (hints.shouldExtractPrefix(this.join(prefix, ''))) stop = this.walk(s, v.start, v.end, prefix, lb);
        prefix.pop();
        return stop;
      }
      if (v.type === 'string' || v.type === 'number' || v.type === 'boolean') this.member(s, key, v, prefix, lb);
      // parser.go parseObject: stop once the query has what it needs.
      stop = hints.allRequiredExtracted(lb);
      return stop;
    });
    return stop;
  }

  private member(s: string, key: string, v: JsonValue, prefix: readonly string[], lb: LabelsBuilder): void {
    let name: string;
    if (prefix.length === 0) {
      name = sanitizeLabelKey(key);
      if (name === '') return;
      name = lb.parsedName(name);
    } else {
      name = this.join(prefix, key);
      if (lb.baseHas(name) || lb.hasMetadata(name)) name = this.join(prefix, key + '_extracted');
    }
    if (!lb.hints.shouldExtract(name) || lb.extracted(name)) return;
    lb.set(Category.Parsed, name, scalar(s, v));
  }

  /** The flattened name of `key` under `prefix` (buildSanitizedPrefixFromBuffer). */
  private join(prefix: readonly string[], key: string): string {
    let out = '';
    const parts = [...prefix, key];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (p.trim() === '') continue;
      if (i > 0 && out !== '') out += '_';
      out = appendSanitized(out, p);
    }
    return out;
  }
}

type PathPart = string | number;

/** Loki's jsonexpr grammar: `a.b`, `a[0]`, `a["b c"]`, `["x"]`. */
export function parseJsonPath(expr: string): PathPart[] {
  const out: PathPart[] = [];
  let i = 0;
  const fail = (msg: string): never => {
    throw new Error(msg);
  };
  const ws = (): void => {
    while (i < expr.length && /\s/.test(expr[i]!)) i++;
  };
  let expectField = true;
  while (true) {
    ws();
    if (i >= expr.length) break;
    const c = expr[i]!;
    if (c === '[') {
      i++;
      ws();
      if (expr[i] === '"') {
        i++;
        let str = '';
        while (i < expr.length && expr[i] !== '"' && expr[i] !== ']') str += expr[i++];
        if (expr[i] === '"') i++;
        out.push(str);
      } else {
        const m = /^\d+/.exec(expr.slice(i));
        if (m === null) fail(`unexpected char ${expr[i] ?? 'EOF'}`);
        i += m![0].length;
        if (expr[i] === '.') fail('cannot use float as array index');
        out.push(Number(m![0]));
      }
      ws();
      if (expr[i] !== ']') fail('syntax error: expected ]');
      i++;
      expectField = false;
      continue;
    }
    if (c === '.' && !expectField && out.length > 0) {
      i++;
      expectField = true;
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(expr.slice(i));
      if (m === null) fail('syntax error: expected field after "."');
      out.push(m![0]);
      i += m![0].length;
      expectField = false;
      continue;
    }
    if (expectField && out.length === 0) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(expr.slice(i));
      if (m === null) fail(`unexpected char ${c}`);
      out.push(m![0]);
      i += m![0].length;
      expectField = false;
      continue;
    }
    fail(`unexpected char ${c}`);
  }
  if (out.length === 0) fail('syntax error: empty expression');
  return out;
}


/** `| json a="x.y"`: one label per expression ("" when the path is absent). */
export class JsonExpressionParser implements Stage {
  private readonly ids: string[];
  private readonly paths: PathPart[][];

  constructor(exprs: readonly ExtractionExpr[]) {
    this.ids = [];
    this.paths = [];
    for (const e of exprs) {
      let p: PathPart[];
      try {
        p = parseJsonPath(e.expression);
      } catch (err) {
        throw new Error(`cannot parse expression [${e.expression}]: ${(err as Error).message}`);
      }
      if (!isValidLabelName(e.identifier)) throw new Error(`invalid extracted label name '${e.identifier}'`);
      this.ids.push(e.identifier);
      this.paths.push(p);
    }
  }

  process(line: string, lb: LabelsBuilder): string {
    if (line === '' || lb.hints.noLabels(lb)) return line;
    const c = line[0];
    if (c !== '"' && c !== '{' && c !== '[') {
      lb.setParserError(JSON_ERROR, undefined);
      return line;
    }
    for (let k = 0; k < this.ids.length; k++) {
      const key = lb.parsedName(this.ids[k]!);
      let v: JsonValue | undefined;
      try {
        v = this.lookup(line, this.paths[k]!);
      } catch (e) {
        if (!(e instanceof JsonScanError)) throw e;
        lb.setParserError(JSON_ERROR, e.message);
        v = undefined;
      }
      if (v === undefined) {
        if (lb.get(this.ids[k]!) === undefined) lb.set(Category.Parsed, this.ids[k]!, '');
        continue;
      }
      const raw = line.slice(v.start, v.end);
      lb.set(Category.Parsed, key, v.type === 'null' ? '' : v.type === 'object' ? raw : jsonStringValue(raw));
    }
    return line;
  }

  private lookup(s: string, path: readonly PathPart[]): JsonValue | undefined {
    let cur: JsonValue = { type: 'object', start: nextToken(s, 0), end: s.length, next: s.length };
    const first = s.charCodeAt(cur.start);
    cur.type = first === 0x5b ? 'array' : first === 0x7b ? 'object' : 'string';
    for (const p of path) {
      if (typeof p === 'number') {
        if (cur.type !== 'array') return undefined;
        const e = arrayElement(s, cur, p);
        if (e === undefined) return undefined;
        cur = e;
        continue;
      }
      if (cur.type !== 'object') return undefined;
      let found: JsonValue | undefined;
      eachMember(s, cur.start, cur.end, (key, v) => {
        if (key !== p) return false;
        found = v;
        return true;
      });
      if (found === undefined) return undefined;
      cur = found;
    }
    return cur;
  }
}

/** `| unpack`: string members become labels; `_entry` replaces the line (Promtail's pack stage). */
export class UnpackParser implements Stage {
  process(line: string, lb: LabelsBuilder): string {
    if (line === '' || lb.hints.noLabels(lb)) return line;
    if (line[0] !== '{') {
      lb.setParserError(JSON_ERROR, 'expecting json object(6), but it is not');
      return line;
    }
    const pending: string[] = [];
    let entry: string | undefined;
    try {
      eachMember(line, 0, line.length, (key, v) => {
        if (v.type !== 'string') return;
        if (key === '_entry') {
          const u = unescapeJson(line.slice(v.start, v.end));
          if (u === undefined) throw new JsonScanError('Encountered an invalid escape sequence in a string');
          entry = u;
          return;
        }
        const name = lb.parsedName(key);
        if (!lb.hints.shouldExtract(name) || lb.extracted(name)) return;
        pending.push(sanitizeLabelKey(name), jsonStringValue(line.slice(v.start, v.end)));
      });
    } catch (e) {
      if (!(e instanceof JsonScanError)) throw e;
      lb.setParserError(JSON_ERROR, e.message);
      return line;
    }
    if (entry === undefined) return line;
    for (let i = 0; i < pending.length; i += 2) lb.set(Category.Parsed, pending[i]!, pending[i + 1]!);
    return entry;
  }
}
