/**
 * Prometheus's template functions (template/template.go). Functions that need
 * a PromQL/LogQL query engine or Go time values (`query`, `toTime`, …) are
 * declared so that a rule using them fails at load time with a clear "not
 * supported" error instead of rendering garbage.
 */
import { compileLineRegex } from '../re2/re2.js';
import { compileSubmatchRegex, type SubmatchRegex } from '../re2/captures.js';
import { expandTemplate } from '../re2/expand-template.js';
import { sprintf } from './fmt.js';
import { formatFloatV, parseGoFloat, quoteGo } from './strconv.js';
import { goTypeName, type GoValue } from './values.js';
import { queryEscape, str, unsupported, type FuncDef } from './funcs.js';

// ---------------------------------------------------------------- strings

/** Go's simple (one rune to one rune) case mapping; JS's full mapping would turn ß into SS. */
function mapRunes(s: string, upper: boolean): string {
  let out = '';
  for (const ch of s) {
    if (!upper && ch === '\u0130') {
      out += 'i';
      continue;
    }
    const m = upper ? ch.toUpperCase() : ch.toLowerCase();
    out += [...m].length === 1 ? m : ch;
  }
  return out;
}

const LETTER_OR_DIGIT = /^[\p{L}\p{Nd}]$/u;
const SPACE = /^\s$/u;

/** strings.Title (what Prometheus 2.x's `title` is): upper-case the first letter of each word. */
function title(s: string): string {
  const isSeparator = (ch: string): boolean => {
    const cp = ch.codePointAt(0)!;
    if (cp <= 0x7f) return !/[A-Za-z0-9_]/.test(ch);
    if (LETTER_OR_DIGIT.test(ch)) return false;
    return SPACE.test(ch);
  };
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isSeparator(prev) ? mapRunes(ch, true) : ch;
    prev = ch;
  }
  return out;
}

// ---------------------------------------------------------------- regexps

/**
 * Regexps come from the product's RE2 engine (src/re2), which reports Go's
 * "error parsing regexp: …" texts itself: `match` tests with the line-filter
 * matcher (bounded for every pattern), `reReplaceAll` needs submatches.
 */

/**
 * Characters searched for one reReplaceAll: each search runs from the last
 * match on, so many matches in a long label value cost quadratic time. Past
 * this bound the call fails (rendered as a template error) instead of
 * freezing the event loop.
 */
const REPLACE_SCAN_BUDGET = 1_000_000;

/** Regexp.ReplaceAllString, with Go's rule that an empty match right after a match is skipped. */
export function replaceAll(re: SubmatchRegex, repl: string, text: string): string {
  // Group names by number (0 is the whole match); Go's Expand takes the leftmost group of a name.
  const names = ['', ...re.groupNames];
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  let scanned = 0;
  while (searchPos <= text.length) {
    scanned += text.length - searchPos + 1;
    if (scanned > REPLACE_SCAN_BUDGET) throw new Error(`reReplaceAll: input too large for ${text.length} characters with this many matches`);
    const m = re.exec(text, searchPos);
    if (m === null) break;
    const start = m.index;
    const end = start + m.groups[0]!.length;
    out += text.slice(lastMatchEnd, start);
    if (end > lastMatchEnd || start === 0) out += expandTemplate(repl, m.groups, names);
    lastMatchEnd = end;
    const cp = text.codePointAt(searchPos);
    const width = cp === undefined ? 1 : cp > 0xffff ? 2 : 1;
    if (searchPos + width > end) searchPos += width;
    else if (searchPos + 1 > end) searchPos++;
    else searchPos = end;
  }
  return out + text.slice(lastMatchEnd);
}

function goRegexpQuote(s: string): string {
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x60 || cp === 0xfeff || (cp < 0x20 && cp !== 9) || cp === 0x7f) return quoteGo(s);
  }
  return '`' + s + '`';
}

// ---------------------------------------------------------------- humanize

/** Prometheus convertToFloat. */
function toFloat(v: GoValue): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return parseGoFloat(v);
  if (typeof v === 'bigint') return Number(v);
  throw new Error(`can't convert ${goTypeName(v)} to float`);
}

const g4 = (v: number, suffix = ''): string => sprintf('%.4g', [v]) + suffix;

/** Prometheus's humanize loops: apply `step` while `more` holds, at most once per prefix; print with the last prefix taken. */
function withPrefix(v: number, prefixes: readonly string[], more: (x: number) => boolean, step: (x: number) => number): string {
  let prefix = '';
  for (const p of prefixes) {
    if (!more(v)) break;
    prefix = p;
    v = step(v);
  }
  return g4(v, prefix);
}

function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return g4(v);
  if (Math.abs(v) >= 1) return withPrefix(v, ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'], (x) => Math.abs(x) >= 1000, (x) => x / 1000);
  return withPrefix(v, ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y'], (x) => Math.abs(x) < 1, (x) => x * 1000);
}

function humanize1024(v: number): string {
  if (Math.abs(v) <= 1 || !Number.isFinite(v)) return g4(v);
  return withPrefix(v, ['ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'Zi', 'Yi'], (x) => Math.abs(x) >= 1024, (x) => x / 1024);
}

const INT64_MIN = -(2n ** 63n);

/** Go's int64(float64) on amd64: out of range (and NaN) gives the minimum int64. */
function goInt64(v: number): bigint {
  if (!Number.isFinite(v) || Math.abs(v) >= 2 ** 63) return INT64_MIN;
  return BigInt(Math.trunc(v));
}

function humanizeDuration(v: number): string {
  if (!Number.isFinite(v)) return g4(v);
  if (v === 0) return g4(v, 's');
  if (Math.abs(v) >= 1) {
    let sign = '';
    if (v < 0) {
      sign = '-';
      v = -v;
    }
    const n = goInt64(v);
    const seconds = n % 60n;
    const minutes = (n / 60n) % 60n;
    const hours = (n / 3600n) % 24n;
    const days = n / 86400n;
    if (days !== 0n) return `${sign}${days}d ${hours}h ${minutes}m ${seconds}s`;
    if (hours !== 0n) return `${sign}${hours}h ${minutes}m ${seconds}s`;
    if (minutes !== 0n) return `${sign}${minutes}m ${seconds}s`;
    return sign + g4(v, 's');
  }
  let prefix = '';
  for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
    if (Math.abs(v) >= 1) break;
    prefix = p;
    v *= 1000;
  }
  return g4(v, prefix + 's');
}

/** fmt.Sprint(time.Time) in UTC: "2006-01-02 15:04:05.999999999 +0000 UTC". */
function humanizeTimestamp(v: number): string {
  if (!Number.isFinite(v)) return g4(v);
  const ns = v * 1e9;
  if (ns >= 2 ** 63 || ns < -(2 ** 63)) throw new Error(`${formatFloatV(v)} cannot be represented as a nanoseconds timestamp since it overflows int64`);
  // model.TimeFromUnixNano(int64(v*1e9)): millisecond precision, truncated toward zero.
  const ms = Number(goInt64(ns) / 1_000_000n);
  const d = new Date(ms);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  let s = `${String(d.getUTCFullYear()).padStart(4, '0')}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
  const frac = d.getUTCMilliseconds();
  if (frac !== 0) s += '.' + String(frac).padStart(3, '0').replace(/0+$/, '');
  return s + ' +0000 UTC';
}

// ---------------------------------------------------------------- table

const NO_QUERY = 'needs a query engine, which the sidecar does not have';

export const PROMETHEUS_FUNCS: ReadonlyMap<string, FuncDef> = new Map<string, FuncDef>([
  ['humanize', { params: ['any'], call: (a) => humanize(toFloat(a[0]!)) }],
  ['humanize1024', { params: ['any'], call: (a) => humanize1024(toFloat(a[0]!)) }],
  ['humanizeDuration', { params: ['any'], call: (a) => humanizeDuration(toFloat(a[0]!)) }],
  ['humanizePercentage', { params: ['any'], call: (a) => g4(toFloat(a[0]!) * 100, '%') }],
  ['humanizeTimestamp', { params: ['any'], call: (a) => humanizeTimestamp(toFloat(a[0]!)) }],
  ['title', { params: ['string'], call: (a) => title(str(a[0]!)) }],
  ['toUpper', { params: ['string'], call: (a) => mapRunes(str(a[0]!), true) }],
  ['toLower', { params: ['string'], call: (a) => mapRunes(str(a[0]!), false) }],
  [
    'match',
    {
      params: ['string', 'string'],
      call: (a) => compileLineRegex(str(a[0]!)).test(str(a[1]!)),
    },
  ],
  [
    'reReplaceAll',
    {
      params: ['string', 'string', 'string'],
      call: (a) => {
        const pattern = str(a[0]!);
        let re: SubmatchRegex;
        try {
          re = compileSubmatchRegex(pattern);
        } catch (e) {
          // regexp.MustCompile panics; text/template reports the panic value.
          throw new Error(`regexp: Compile(${goRegexpQuote(pattern)}): ${(e as Error).message}`);
        }
        return replaceAll(re, str(a[1]!), str(a[2]!));
      },
    },
  ],
  ['safeHtml', { params: ['string'], call: (a) => str(a[0]!) }],
  ['stripPort', { params: ['string'], call: (a) => stripPort(str(a[0]!)) }],
  ['stripDomain', { params: ['string'], call: (a) => stripDomain(str(a[0]!)) }],
  ['graphLink', { params: ['string'], call: (a) => `/graph?g0.expr=${queryEscape(str(a[0]!))}&g0.tab=0` }],
  ['tableLink', { params: ['string'], call: (a) => `/graph?g0.expr=${queryEscape(str(a[0]!))}&g0.tab=1` }],
  ['externalURL', { params: [], call: (_a, ctx) => ctx.externalURL }],
  ['pathPrefix', { params: [], call: (_a, ctx) => urlPath(ctx.externalURL) }],
  ['query', unsupported(`query ${NO_QUERY}`)],
  ['first', unsupported(`first ${NO_QUERY}`)],
  ['label', unsupported(`label ${NO_QUERY}`)],
  ['value', unsupported(`value ${NO_QUERY}`)],
  ['strvalue', unsupported(`strvalue ${NO_QUERY}`)],
  ['sortByLabel', unsupported(`sortByLabel ${NO_QUERY}`)],
  ['args', unsupported('args is for console templates')],
  ['tmpl', unsupported('tmpl is for console templates')],
  ['toTime', unsupported('toTime (Go time values) is not supported')],
  ['toDuration', unsupported('toDuration (Go time values) is not supported')],
  ['parseDuration', unsupported('parseDuration is not supported')],
  ['now', unsupported('now is not supported')],
]);

function stripPort(hostPort: string): string {
  // net.SplitHostPort, falling back to the input as Prometheus does.
  const m = /^\[([^\]]*)\]:[^:]*$/.exec(hostPort) ?? /^([^:[\]]*):[^:]*$/.exec(hostPort);
  return m ? m[1]! : hostPort;
}

function stripDomain(hostPort: string): string {
  let host = hostPort;
  let port = '';
  const m = /^\[([^\]]*)\]:([^:]*)$/.exec(hostPort) ?? /^([^:[\]]*):([^:]*)$/.exec(hostPort);
  if (m) {
    host = m[1]!;
    port = m[2]!;
  }
  // IP addresses keep their dots.
  if (/^\d+\.\d+\.\d+\.\d+$/.test(host) || host.includes(':')) return hostPort;
  const dot = host.indexOf('.');
  if (dot >= 0) host = host.slice(0, dot);
  if (!m) return host;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function urlPath(u: string): string {
  try {
    return new URL(u).pathname.replace(/^\/$/, u.endsWith('/') ? '/' : '');
  } catch {
    return '';
  }
}

