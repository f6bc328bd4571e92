/** JSON logs carry string levels, which Loki and Grafana recognise (src/logger.ts). */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';

function capture(level: 'debug' | 'info' | 'warn') {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const logger = createLogger({ level, format: 'json' }, out);
  return { logger, lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createLogger (json)', () => {
  it('writes "level":"info" (not 30) for every level, and honours the configured level', async () => {
    const { logger, lines } = capture('info');
    logger.debug('hidden');
    logger.info({ rules: 2 }, 'rules loaded');
    logger.warn('careful');
    logger.error({ err: 'x' }, 'bad');
    await new Promise((r) => setImmediate(r));
    expect(lines().map((l) => [l.level, l.msg])).toEqual([
      ['info', 'rules loaded'],
      ['warn', 'careful'],
      ['error', 'bad'],
    ]);
    expect(lines()[0]).toMatchObject({ rules: 2 });
  });

  it('child loggers keep string levels and secrets stay redacted', async () => {
    const { logger, lines } = capture('debug');
    logger.child({ component: 'loki' }).debug({ auth: { password: 'hunter2' } }, 'push');
    await new Promise((r) => setImmediate(r));
    expect(lines()).toEqual([expect.objectContaining({ level: 'debug', component: 'loki', msg: 'push', auth: { password: '<redacted>' } })]);
  });
});
