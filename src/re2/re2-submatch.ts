/**
 * Submatches (capture groups) for label_replace: an RE2 pattern translated to
 * an equivalent JS RegExp for the syntax where the two agree exactly, and
 * Go's Regexp.Expand for the replacement template.
 *
 * Go's regexp picks the submatches a backtracking engine would (leftmost-
 * first, Perl semantics), as V8 does, so for the subset below results are
 * the same. Outside it (POSIX/Unicode classes, flags other than a leading
 * (?i), \b, \A, \z, \Q…\E) `translateForSubmatch` returns a reason instead.
 * Label values are short, so backtracking cost is bounded by their length.
 */

export interface SubmatchRegex {
  /** Anchored ^(?:re)$ as label_replace requires. */
  readonly re: RegExp;
  /** Capture group names by index (undefined for unnamed groups). */
  readonly names: ReadonlyArray<string | undefined>;
}

const SIMPLE_ESCAPES: Record<string, string> = { d: '\\d', D: '\\D', t: '\\t', n: '\\n', r: '\\r', f: '\\f', v: '\\v' };
// RE2 \s is [\t\n\f\r ]; JS \s also has \v and Unicode spaces.
const RE2_SPACE = '\\t\\n\\f\\r ';

function cpEscape(c: string): string {
  return `\\u{${c.codePointAt(0)!.toString(16)}}`;
}

/** Translates an RE2 pattern, or returns why it can't be done exactly. */
export function translateForSubmatch(source: string): SubmatchRegex | string {
  let src = source;
  let flags = 'u';
  if (src.startsWith('(?i)')) {
    flags += 'i';
    src = src.slice(4);
  }
  const fold = flags.includes('i');
  const names: Array<string | undefined> = [undefined];
  let out = '';
  let inClass = false;
  const chars = [...src];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\') {
      const n = chars[++i];
      if (n === undefined) return 'trailing backslash';
      if (SIMPLE_ESCAPES[n] !== undefined) out += SIMPLE_ESCAPES[n];
      else if (n === 's') out += inClass ? RE2_SPACE : `[${RE2_SPACE}]`;
      else if (n === 'S') {
        if (inClass) return '\\S inside a class';
        out += `[^${RE2_SPACE}]`;
      } else if (n === 'w' || n === 'W') {
        if (fold) return `\\${n} with (?i)`;
        out += `\\${n}`;
      } else if (/[^0-9A-Za-z]/.test(n)) out += cpEscape(n);
      else return `escape \\${n}`;
      continue;
    }
    if (inClass) {
      if (c === '[') return 'nested or POSIX class';
      if (c === ']') inClass = false;
      out += c === '-' || c === ']' || c === '^' ? c : cpEscape(c);
      continue;
    }
    switch (c) {
      case '[':
        inClass = true;
        out += '[';
        if (chars[i + 1] === '^') {
          out += '^';
          i++;
        }
        // A leading ] is a literal in RE2.
        if (chars[i + 1] === ']') {
          out += '\\]';
          i++;
        }
        break;
      case '(': {
        if (chars[i + 1] !== '?') {
          names.push(undefined);
          out += '(';
          break;
        }
        const rest = chars.slice(i, i + 4).join('');
        if (rest.startsWith('(?:')) {
          out += '(?:';
          i += 2;
          break;
        }
        const m = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(chars.slice(i, i + 40).join(''));
        if (m === null) return 'group flags';
        names.push(m[1]);
        // Named in JS too would reject duplicates RE2 allows; numbered is enough.
        out += '(';
        i += m[0].length - 1;
        break;
      }
      case ')':
      case '|':
      case '*':
      case '+':
      case '?':
      case '.':
      case '^':
      case '$':
        out += c;
        break;
      case '{': {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(chars.slice(i, i + 20).join(''));
        if (m === null) out += cpEscape(c); // RE2 takes a brace that starts no repeat literally
        else {
          out += m[0];
          i += m[0].length - 1;
        }
        break;
      }
      default:
        out += cpEscape(c);
    }
  }
  if (inClass) return 'unterminated class';
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${out})$`, flags);
  } catch (e) {
    return (e as Error).message;
  }
  return { re, names };
}

/**
 * Go's Regexp.ExpandString: `$1`, `${1}`, `$name`, `${name}`, `$$`. In `$name`
 * the name is the longest run of letters, digits and `_`; an unknown or
 * unmatched group expands to nothing; a malformed `$` is copied.
 */
export function expandTemplate(template: string, groups: ReadonlyArray<string | undefined>, names: ReadonlyArray<string | undefined>): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const d = template.indexOf('$', i);
    if (d < 0) {
      out += template.slice(i);
      break;
    }
    out += template.slice(i, d);
    i = d + 1;
    if (template[i] === '$') {
      out += '$';
      i++;
      continue;
    }
    let name: string | undefined;
    if (template[i] === '{') {
      const m = /^\{([A-Za-z0-9_]+)\}/.exec(template.slice(i));
      if (m !== null) {
        name = m[1];
        i += m[0].length;
      }
    } else {
      const m = /^[A-Za-z0-9_]+/.exec(template.slice(i));
      if (m !== null) {
        name = m[0];
        i += m[0].length;
      }
    }
    if (name === undefined) {
      out += '$';
      continue;
    }
    let idx = -1;
    if (/^[0-9]+$/.test(name)) idx = Number(name);
    else idx = names.indexOf(name);
    if (idx >= 0 && idx < groups.length) out += groups[idx] ?? '';
  }
  return out;
}
