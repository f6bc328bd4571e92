/** pino: JSON for machines by default, `pretty` for humans. Secrets are redacted by path. */
import { pino, type Logger } from 'pino';
import type { Config } from './config/schema.js';

export function createLogger(cfg: Config['log'], destination?: NodeJS.WritableStream): Logger {
  const redact = { paths: ['*.password', '*.bearerToken', '*.token', '*.authorization', 'headers.authorization'], censor: '<redacted>' };
  if (cfg.format === 'pretty') {
    return pino({ level: cfg.level, redact, transport: { target: 'pino-pretty', options: { colorize: false, translateTime: 'SYS:standard' } } });
  }
  return destination === undefined ? pino({ level: cfg.level, redact }) : pino({ level: cfg.level, redact }, destination as pino.DestinationStream);
}
