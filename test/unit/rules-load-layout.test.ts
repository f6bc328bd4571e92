/**
 * Which files a rule path loads: plain directories, Loki tenant directories,
 * Kubernetes ConfigMap mounts (`..data` symlinks), dot-files, the opt-in
 * `library` directory, dedupe and ordering.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RuleLoadErrors, listRuleFiles, loadRuleSet } from '../../src/rules/load.js';

const rule = (name: string): string =>
  `groups:\n  - name: ${name}\n    rules:\n      - alert: ${name}\n        expr: sum(count_over_time({job="talos-kernel"} |= "${name}" [5m])) > 0\n`;

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'rules-layout-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function write(rel: string, text: string): string {
  const p = join(root, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

describe('rule paths', () => {
  it('a plain directory: its files in name order, dot-files ignored', async () => {
    write('b.yaml', rule('b'));
    write('a.yml', rule('a'));
    write('.hidden.yaml', 'not: [valid');
    write('.git/config', 'x');
    const set = await loadRuleSet([root], { unsupported: 'error' });
    expect(set.files).toEqual([join(root, 'a.yml'), join(root, 'b.yaml')]);
    expect(set.groups.map((g) => g.name)).toEqual(['a', 'b']);
    expect(set.groups[0]!.file).toBe(join(root, 'a.yml'));
  });

  it("Loki's <dir>/<tenant>/<file> layout: tenant directories one level deep, deeper ones ignored", async () => {
    write('fake/rules.yaml', rule('fake1'));
    write('tenant2/z.yaml', rule('t2'));
    write('fake/nested/deeper.yaml', rule('deep'));
    write('top.yaml', rule('top'));
    const { files } = await listRuleFiles([root]);
    expect(files).toEqual([join(root, 'top.yaml'), join(root, 'fake/rules.yaml'), join(root, 'tenant2/z.yaml')]);
  });

  it('skips the opt-in library directory unless it is named', async () => {
    write('talos-kernel.yaml', rule('seed'));
    write('library/extra.yaml', rule('extra'));
    expect((await listRuleFiles([root])).files).toEqual([join(root, 'talos-kernel.yaml')]);
    expect((await listRuleFiles([join(root, 'library')])).files).toEqual([join(root, 'library/extra.yaml')]);
    expect((await listRuleFiles([root, join(root, 'library/extra.yaml')])).files).toEqual([
      join(root, 'talos-kernel.yaml'),
      join(root, 'library/extra.yaml'),
    ]);
  });

  it('a Kubernetes ConfigMap mount (..data symlinks) loads each key once, mounted at the tenant dir or above', async () => {
    // What kubelet's atomic writer leaves: real files in a timestamped dir, ..data → it, keys → ..data/<key>.
    const ts = '..2026_03_01_12_00_00.123456789';
    write(`fake/${ts}/alerting-rules.yaml`, rule('cm'));
    write(`fake/${ts}/other.yaml`, rule('cm2'));
    symlinkSync(ts, join(root, 'fake/..data'));
    symlinkSync('..data/alerting-rules.yaml', join(root, 'fake/alerting-rules.yaml'));
    symlinkSync('..data/other.yaml', join(root, 'fake/other.yaml'));
    const want = [join(root, 'fake/alerting-rules.yaml'), join(root, 'fake/other.yaml')];
    expect((await listRuleFiles([root])).files).toEqual(want);
    expect((await listRuleFiles([join(root, 'fake')])).files).toEqual(want);
    const set = await loadRuleSet([join(root, 'fake')], { unsupported: 'error' });
    expect(set.groups.map((g) => g.name)).toEqual(['cm', 'cm2']);
  });

  it('loads a file reached twice only once', async () => {
    const a = write('a.yaml', rule('a'));
    symlinkSync('a.yaml', join(root, 'alias.yaml'));
    const set = await loadRuleSet([root, a], { unsupported: 'error' });
    expect(set.files).toEqual([a]);
    expect(set.groups).toHaveLength(1);
  });

  it('an empty directory is an empty rule set', async () => {
    mkdirSync(join(root, 'fake'));
    const set = await loadRuleSet([root], { unsupported: 'error' });
    expect(set).toEqual({ groups: [], skipped: [], files: [] });
  });

  it('reports missing paths and dangling symlinks, and still lists what it could', async () => {
    write('ok.yaml', rule('ok'));
    symlinkSync('..data/gone.yaml', join(root, 'gone.yaml'));
    const missing = join(root, 'nope');
    const listed = await listRuleFiles([root, missing]);
    expect(listed.files).toEqual([join(root, 'ok.yaml')]);
    expect(listed.errors.map((e) => e.message)).toEqual([`${join(root, 'gone.yaml')}: no such file or directory`, `${missing}: no such file or directory`]);
    await expect(loadRuleSet([root], { unsupported: 'error' })).rejects.toBeInstanceOf(RuleLoadErrors);
  });

  it('collects the errors of every file into one RuleLoadErrors', async () => {
    write('a.yaml', 'groups:\n  - name: a\n    rules:\n      - alert: A\n');
    write('b.yaml', 'groups:\n  - name: b\n    bogus: 1\n');
    write('c.yaml', rule('fine'));
    const err = await loadRuleSet([root], { unsupported: 'error' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuleLoadErrors);
    const messages = (err as RuleLoadErrors).errors.map((e) => e.message);
    expect(messages).toEqual([
      `${join(root, 'a.yaml')}:4:9: group "a": rule "A": field 'expr' must be set in rule`,
      `${join(root, 'b.yaml')}:3:5: group "b": unknown field "bogus" in group (known: name, interval, limit, rules)`,
    ]);
    expect((err as Error).message).toContain('2 errors loading rules');
  });
});

describe('documentation beside rule files', () => {
  it('skips README/markdown/text files when reading a directory, but loads them when named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tas-docs-'));
    copyFileSync('rules/talos-kernel.yaml', join(dir, 'talos-kernel.yaml'));
    writeFileSync(join(dir, 'README.md'), '# Rules\n\nNot: yaml: at: all\n');
    writeFileSync(join(dir, 'notes.txt'), 'x');
    const listed = await listRuleFiles([dir]);
    expect(listed.files.map((f) => f.slice(dir.length + 1))).toEqual(['talos-kernel.yaml']);
    expect((await listRuleFiles([join(dir, 'README.md')])).files).toHaveLength(1);
  });
});
