/** Ephemeral ports for peers that cannot listen on port 0 themselves (Alertmanager, Prometheus). */
import net from 'node:net';

/** A port that was free on 127.0.0.1 a moment ago (listen on :0, close, return). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
