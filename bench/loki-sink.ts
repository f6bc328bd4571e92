/**
 * Child process: a Loki push endpoint that accepts and discards. It reads
 * each body and answers 204 as Loki does, without decoding (the pusher's own
 * `loki_lines_sent_total` says what was delivered), so it costs the machine
 * as little as possible. A separate process keeps it off the sidecar's core.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { childChannel } from './lib/forked-child.js';

export type LokiSinkCmd = { cmd: 'stats' };
export type LokiSinkEv = { ev: 'listening'; url: string } | { ev: 'stats'; requests: number; bodyBytes: number };

let requests = 0;
let bodyBytes = 0;

const server = http.createServer((req, res) => {
  req.on('data', (c: Buffer) => {
    bodyBytes += c.length;
  });
  req.on('end', () => {
    if (req.method === 'POST' && req.url?.endsWith('/loki/api/v1/push')) {
      requests++;
      res.writeHead(204).end();
    } else {
      res.writeHead(404).end();
    }
  });
});

const emit = childChannel<LokiSinkCmd, LokiSinkEv>(() => {
  emit({ ev: 'stats', requests, bodyBytes });
});

server.listen(0, '127.0.0.1', () => {
  emit({ ev: 'listening', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});
