/**
 * The rule-library fixtures under test/fixtures/library are rendered from
 * samples.ts with the generator's Talos formatters. This test fails when the
 * files drift from their source; UPDATE_LIBRARY_FIXTURES=1 rewrites them.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { goJsonMarshal, type GoJsonValue } from '../../src/talos/go-json.js';
import { LIBRARY_SAMPLES, renderAllFixtures } from '../fixtures/library/samples.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'library');

describe('rule-library fixtures', () => {
  const rendered = renderAllFixtures();

  if (process.env['UPDATE_LIBRARY_FIXTURES'] === '1') {
    for (const [rel, content] of rendered) {
      mkdirSync(dirname(join(FIXTURES, rel)), { recursive: true });
      writeFileSync(join(FIXTURES, rel), content);
    }
  }

  it('are exactly what samples.ts renders (no hand edits, no stale files)', () => {
    for (const [rel, content] of rendered) {
      expect(existsSync(join(FIXTURES, rel)), rel).toBe(true);
      expect(readFileSync(join(FIXTURES, rel), 'utf8'), rel).toBe(content);
    }
    // corpus/ holds the hand-collected real lines (test/unit/rule-library-corpus.test.ts), not rendered files.
    const onDisk = readdirSync(FIXTURES, { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name !== 'corpus')
      .flatMap((d) => readdirSync(join(FIXTURES, d.name)).map((f) => `${d.name}/${f}`));
    expect(onDisk.filter((p) => !rendered.has(p))).toEqual([]);
  });

  it('hold only byte-exact Talos json_lines records', () => {
    for (const [rel, content] of rendered) {
      if (!rel.endsWith('.jsonl')) continue;
      for (const line of content.trimEnd().split('\n')) {
        const obj = JSON.parse(line) as Record<string, GoJsonValue>;
        expect(goJsonMarshal(obj), rel).toBe(line);
        expect(typeof obj['talos-time']).toBe('string');
        if ('talos-service' in obj) expect(Object.keys(obj)).toEqual(['msg', 'talos-level', 'talos-service', 'talos-time']);
        else expect(Object.keys(obj)).toEqual(['clock', 'facility', 'msg', 'priority', 'seq', 'talos-level', 'talos-time']);
      }
    }
  });

  it('cover every alerting rule in rules/library, and nothing else', () => {
    const names = new Set<string>();
    for (const file of ['storage', 'node', 'network', 'talos', 'pipeline']) {
      const doc = parseYaml(readFileSync(join(ROOT, 'rules', 'library', `${file}.yaml`), 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string }> }> };
      for (const g of doc.groups) for (const r of g.rules) if (r.alert !== undefined) names.add(r.alert);
    }
    expect(new Set(LIBRARY_SAMPLES.map((s) => s.rule))).toEqual(names);
    for (const s of LIBRARY_SAMPLES) {
      expect(s.positive.samples.length, s.rule).toBeGreaterThan(0);
      expect(s.negative.samples.length, s.rule).toBeGreaterThan(0);
    }
  });
});
