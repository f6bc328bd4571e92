/**
 * Snappy block compression for Loki push bodies (src/sinks/loki/snappy-block.ts):
 * the native `snappy` binding and snappyjs both write blocks that the test
 * receiver's own decoder (written from the block format, as Loki's
 * snappy.Decode reads it) turns back into the same PushRequest, and the
 * native binding is picked where it loads, snappyjs where it does not.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { OpenBatch } from '../../src/sinks/loki/batch.js';
import { encodeBatch } from '../../src/sinks/loki/encode.js';
import { PushWriter } from '../../src/sinks/loki/push-writer.js';
import { jsSnappyBlock, nativeSnappyBlock, snappyBlock, type SnappyBlock } from '../../src/sinks/loki/snappy-block.js';
import { makeEvents } from '../helpers/loki-fixtures.js';
import { decodePush, snappyDecodeBlock } from '../helpers/loki-receiver.js';

/** Where `npm ci` installs a prebuilt binding for this machine (the platforms the image and CI run on). */
function bindingShipped(): boolean {
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
  return process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64') && header?.glibcVersionRuntime !== undefined;
}

function nativeOrFail(): SnappyBlock {
  const n = nativeSnappyBlock();
  if (n instanceof Error) throw new Error(`native snappy did not load on ${process.platform}-${process.arch}: ${n.message}`);
  return n;
}

function pushRequest(lines: number): Buffer {
  const b = new OpenBatch(true);
  for (const ev of makeEvents(lines)) b.add(ev);
  return Buffer.from(new PushWriter().encode(b, true));
}

describe('snappy block compression', () => {
  it('uses the native binding on glibc Linux (x64, arm64), snappyjs elsewhere', () => {
    expect(snappyBlock().kind).toBe(bindingShipped() ? 'native' : 'js');
    expect(snappyBlock()).toBe(snappyBlock()); // chosen once
  });

  it('native and snappyjs blocks decode to the same PushRequest and entries', () => {
    const native = nativeOrFail();
    const js = jsSnappyBlock();
    // Small, several literal/copy lengths, and bigger than snappy's 64 KiB fragment.
    for (const lines of [0, 1, 37, 3000]) {
      const raw = pushRequest(lines);
      const a = native.compress(raw);
      const b = js.compress(raw);
      expect(snappyDecodeBlock(a).equals(raw), `native, ${lines} lines`).toBe(true);
      expect(snappyDecodeBlock(b).equals(raw), `snappyjs, ${lines} lines`).toBe(true);
      expect(decodePush(a, 'application/x-protobuf', undefined)).toEqual(decodePush(b, 'application/x-protobuf', undefined));
      if (lines > 100) expect(a.length).toBeLessThan(raw.length / 2); // it compresses (Talos lines repeat a lot)
    }
  });

  it('returns a new buffer holding only the block, never a view of its input', () => {
    const raw = pushRequest(2000);
    const copy = Buffer.from(raw);
    for (const impl of [nativeOrFail(), jsSnappyBlock()]) {
      const out = impl.compress(raw);
      expect(out.buffer === raw.buffer && out.byteLength > 0, impl.kind).toBe(false);
      // Queued bodies are counted by their length: the memory behind them must be about that.
      expect(out.byteLength, impl.kind).toBeLessThan(raw.byteLength / 2);
      expect(out.buffer.byteLength, impl.kind).toBeLessThanOrEqual(out.byteLength + 8192);
      raw.fill(0);
      expect(snappyDecodeBlock(out).equals(copy), impl.kind).toBe(true);
      copy.copy(raw);
    }
  });

  it('falls back cleanly when the binding cannot load: requiring `snappy` throws, it does not crash the process', () => {
    // napi-rs loaders honour NAPI_RS_NATIVE_LIBRARY_PATH before any platform package; a path that
    // does not exist stands for a platform without a prebuilt binary.
    const script = `import { createRequire } from 'node:module';
      const require = createRequire(process.cwd() + '/package.json');
      try { require('snappy'); console.log('loaded'); } catch (e) { console.log('threw: ' + String(e.message).split('\\n')[0]); }`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, NAPI_RS_NATIVE_LIBRARY_PATH: '/nonexistent/snappy.node' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(out).toMatch(/^threw: /);
  });
});

describe('encodeBatch with the reused PushWriter', () => {
  it('hands out bodies that later batches do not overwrite', async () => {
    const first = makeEvents(400, { tag: 'a' });
    const second = makeEvents(900, { tag: 'b', hosts: 5 });
    const batchOf = (evs: typeof first): OpenBatch => {
      const b = new OpenBatch(true);
      for (const ev of evs) b.add(ev);
      return b;
    };
    const a = await encodeBatch(batchOf(first), 'protobuf', true);
    const aBytes = Buffer.from(a.body);
    const b = await encodeBatch(batchOf(second), 'protobuf', true);
    const c = await encodeBatch(batchOf(first.slice(0, 10)), 'protobuf', false);
    expect(a.body.equals(aBytes)).toBe(true);
    const gotA = decodePush(a.body, 'application/x-protobuf', undefined);
    expect(gotA.map((e) => e.line).sort()).toEqual(first.map((e) => e.line).sort());
    expect(decodePush(b.body, 'application/x-protobuf', undefined)).toHaveLength(900);
    expect(decodePush(c.body, 'application/x-protobuf', undefined).every((e) => Object.keys(e.metadata).length === 0)).toBe(true);
  });
});
