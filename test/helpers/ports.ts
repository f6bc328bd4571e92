/** Ephemeral ports for peers that cannot listen on port 0 themselves (Alertmanager, Prometheus). */
export { freePort } from '../../bench/lib/free-port.js';
