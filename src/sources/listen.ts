/**
 * Opens the configured ingest sources (TCP and UDP on one port) and registers
 * their metrics. All or nothing: when one cannot listen, the other is closed
 * again and the error names the address and protocol (no half-open ports).
 */
import type { Registry } from 'prom-client';
import { ConfigError, parseHostPort, type Config } from '../config/schema.js';
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
  const tcpPort = tcp !== undefined ? await tcp.listen().catch((e: unknown) => Promise.reject(listenError('ingest.listen', `${host}:${port}/tcp`, e))) : 0;
  // UDP shares the TCP port (port 0: the one TCP got), as Talos destinations name one host:port.
  const udpAt = tcp !== undefined ? tcpPort : port;
  const udp = ingest.udp ? new UdpSource({ host, port: udpAt, allowlist }, sink) : undefined;
  let udpPort = 0;
  try {
    udpPort = udp !== undefined ? await udp.listen() : 0;
  } catch (e) {
    await tcp?.close().catch(() => undefined);
    // A socket whose bind failed may never report its close: bounded.
    await Promise.race([udp?.close().catch(() => undefined), new Promise((r) => setTimeout(r, 200).unref())]);
    throw listenError('ingest.listen', `${host}:${udpAt}/udp`, e);
  }
  registerSourceMetrics(registry, tcp);
  return {
    tcpPort,
    udpPort,
    close: async () => {
      await Promise.all([tcp?.close(), udp?.close()]);
    },
  };
}

/** A listener that could not open, as one line naming the setting, address and cause. */
export function listenError(key: string, address: string, e: unknown): ConfigError {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === 'EADDRINUSE' ? 'address already in use' : code === 'EACCES' ? 'permission denied' : code === 'EADDRNOTAVAIL' ? 'address not available on this host' : (code ?? (e as Error).message);
  return new ConfigError(key, `cannot listen on ${address}: ${why}`);
}
