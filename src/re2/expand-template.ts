/**
 * Go's Regexp.Expand for templates that refer to capture groups
 * (label_replace's replacement).
 */

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
