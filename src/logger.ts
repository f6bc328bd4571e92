/**
 * pino: JSON for machines by default, `pretty` for humans. Secrets are redacted by path.
 * JSON records carry the level as a string (`"level":"info"`), not pino's
 * number (30): Loki's level detection and Grafana's log-level colouring read
 * the name, as they do for Prometheus', Loki's and Alertmanager's own logs.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';
import type { Config } from './config/schema.js';

export function createLogger(cfg: Config['log'], destination?: NodeJS.WritableStream): Logger {
  const redact = { paths: ['*.password', '*.bearerToken', '*.token', '*.authorization', 'headers.authorization'], censor: '<redacted>' };
  if (cfg.format === 'pretty') {
    return pino({ level: cfg.level, redact, transport: { target: 'pino-pretty', options: { colorize: false, translateTime: 'SYS:standard' } } });
  }
  const opts: LoggerOptions = { level: cfg.level, redact, formatters: { level: (label) => ({ level: label }) } };
  return destination === undefined ? pino(opts) : pino(opts, destination as pino.DestinationStream);
}
