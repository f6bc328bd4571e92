/** Ephemeral ports for peers that cannot listen on port 0 themselves (Alertmanager, Prometheus). */
export { freePort } from '../../src/net/free-port.js';
