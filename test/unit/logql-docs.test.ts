/** Every LogQL example in docs/logql-support.md is accepted by the parser (and so by `check`). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseExpr } from '../../src/logql/parse.js';

const md = readFileSync(new URL('../../docs/logql-support.md', import.meta.url), 'utf8');
const queries = [...md.matchAll(/```logql\n([\s\S]*?)```/g)]
  .flatMap((m) => m[1]!.split('\n').filter((l) => !l.startsWith('#')).join('\n').split(/\n(?=[a-z_]+\()/))
  .map((q) => q.trim())
  .filter((q) => q !== '');

describe('docs/logql-support.md examples', () => {
  it('has examples', () => {
    expect(queries.length).toBeGreaterThanOrEqual(5);
  });
  it.each(queries)('%s', (q) => {
    expect(() => parseExpr(q)).not.toThrow();
  });
});

describe('a rule file of pipeline rules loads in error mode (what `check` runs)', () => {
  it('accepts every rule', async () => {
    const { loadRuleSet } = await import('../../src/rules/load.js');
    const file = new URL('../fixtures/logql/pipeline-rules.yaml', import.meta.url).pathname;
    const set = await loadRuleSet([file], { unsupported: 'error' });
    expect(set.groups.flatMap((g) => g.rules.map((r) => r.name))).toHaveLength(11);
    expect(set.skipped).toEqual([]);
  });
});
