/**
 * A stream selector's label matcher as a test over a label set. An absent label
 * is the empty string, as in Loki and Prometheus (`{app=""}` matches streams
 * without `app`); regex matchers are anchored RE2 (see re2.compileLabelRegex).
 */
import { compileLabelRegex } from '../re2/re2.js';
import type { LabelMatcher } from './ast.js';

export type LabelTest = (labels: Readonly<Record<string, string>>) => boolean;

export function compileLabelMatcher(m: LabelMatcher): LabelTest {
  const { name, value } = m;
  switch (m.op) {
    case '=':
      return (l) => (l[name] ?? '') === value;
    case '!=':
      return (l) => (l[name] ?? '') !== value;
    case '=~': {
      const re = compileLabelRegex(value);
      return (l) => re(l[name] ?? '');
    }
    case '!~': {
      const re = compileLabelRegex(value);
      return (l) => !re(l[name] ?? '');
    }
  }
}
