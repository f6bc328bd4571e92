/** Opens the configured ingest sources (TCP and UDP on one port) and registers their metrics. */
import type { Registry } from 'prom-client';
import { parseHostPort, type Config } from '../config/schema.js';
import { PeerAllowlist } from './allowlist.js';
import type { RecordSink } from './ingest-target.js';
import { registerSourceMetrics } from './metrics.js';
import { TcpSource } from './tcp.js';
import { UdpSource } from './udp.js';

export interface OpenSources {
  /** Bound ports; 0 for a protocol that is off. */
  readonly tcpPort: number;
  readonly udpPort: number;
  /** Stop accepting; what was already read has been handed to the sink. */
  close(): Promise<void>;
}

export async function openSources(ingest: Config['ingest'], sink: RecordSink, registry: Registry): Promise<OpenSources> {
  const { host, port } = parseHostPort(ingest.listen, 'ingest.listen');
  const allowlist = new PeerAllowlist(ingest.allowCidrs);
  const tcp = ingest.tcp
    ? new TcpSource({ host, port, maxLineBytes: ingest.maxLineBytes, maxConnections: ingest.maxConnections, idleTimeoutMs: ingest.idleTimeoutMs, allowlist }, sink)
    : undefined;
  const tcpPort = tcp !== undefined ? await tcp.listen() : 0;
  // UDP shares the TCP port (port 0: the one TCP got), as Talos destinations name one host:port.
  const udp = ingest.udp ? new UdpSource({ host, port: tcp !== undefined ? tcpPort : port, allowlist }, sink) : undefined;
  const udpPort = udp !== undefined ? await udp.listen() : 0;
  registerSourceMetrics(registry, tcp);
  return {
    tcpPort,
    udpPort,
    close: async () => {
      await Promise.all([tcp?.close(), udp?.close()]);
    },
  };
}
