/**
 * chart/README.md's values table is generated from the `# --` comments of
 * chart/values.yaml by scripts/chart-docs.mjs; this fails when they drift.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/helm.js';

interface ChartDocs {
  VALUES: string;
  README: string;
  documentedKeys(text: string): { path: string; description: string | null }[];
  valuesTable(text?: string): string;
  renderReadme(readme?: string, table?: string): string;
}
const docs = (await import(join(REPO_ROOT, 'scripts/chart-docs.mjs'))) as ChartDocs;
const valuesText = readFileSync(docs.VALUES, 'utf8');
const readme = readFileSync(docs.README, 'utf8');

describe('chart README values table', () => {
  it('is exactly what scripts/chart-docs.mjs generates (no drift)', () => {
    expect(docs.renderReadme(readme)).toBe(readme);
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/chart-docs.mjs'), '--check'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
  });

  it('would notice a changed description, default or new key', () => {
    const changed = [
      valuesText.replace('# -- Image tag; empty uses the chart', '# -- The image tag; empty uses the chart'),
      valuesText.replace('  port: 6000\n', '  port: 6001\n'),
      valuesText.replace('\ntests:\n', '\n# -- A new switch.\nnewSwitch: false\ntests:\n'),
    ];
    for (const text of changed) {
      expect(text).not.toBe(valuesText);
      expect(docs.renderReadme(readme, docs.valuesTable(text))).not.toBe(readme);
    }
  });

  it('refuses an undocumented value', () => {
    expect(() => docs.valuesTable(`${valuesText}\nundocumentedKey: 1\n`)).toThrow('no "# --" description for undocumentedKey');
  });

  it('reads nesting, lists and multi-line comments like helm-docs', () => {
    const keys = docs.documentedKeys('# -- a\n# continued\na:\n  - x: 1\n    y: 2\nb:\n  # -- c\n  c:\n    d: 1\n  e: |\n    text: 1\n');
    expect(keys).toEqual([
      { path: 'a', description: 'a continued' },
      { path: 'b', description: null },
      { path: 'b.c', description: 'c' },
      { path: 'b.c.d', description: null },
      { path: 'b.e', description: null },
    ]);
  });

  it('lists every value with its default, e.g. the mode and the node-mode switches', () => {
    expect(readme).toContain('| `mode` | string | `"node"` |');
    expect(readme).toContain('| `node.hostNetwork` | bool | `true` |');
    expect(readme).toContain('| `cluster.service.nodePorts` | list | `[30600,30601]` |');
  });
});
