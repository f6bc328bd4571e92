/**
 * Entry point of the Loki worker thread (started by LokiForwarder). It logs
 * straight to the process's stdout file descriptor, not through the ingest
 * thread's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { createLogger } from '../../../logger.js';
import { LokiHost } from './host.js';
import type { HostConfig } from './protocol.js';

if (parentPort === null) throw new Error('worker-main.js runs as a worker thread (LokiForwarder starts it)');
const cfg = workerData as HostConfig;
const logger = createLogger(cfg.log, cfg.log.format === 'pretty' ? undefined : (pino.destination({ dest: 1, sync: true }) as unknown as NodeJS.WritableStream));
new LokiHost(cfg, parentPort, logger.child({ component: 'loki' }));
