/** Optional CIDR allowlist for ingest peers (IPv4 and IPv6), on node's BlockList. */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export class PeerAllowlist {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const [net, bits] = cidr.split('/');
      const type = isIPv4(net ?? '') ? 'ipv4' : isIPv6(net ?? '') ? 'ipv6' : undefined;
      const prefix = bits === undefined ? (type === 'ipv4' ? 32 : 128) : Number(bits);
      if (type === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > (type === 'ipv4' ? 32 : 128)) {
        throw new Error(`ingest.allow_cidrs: not a CIDR: "${cidr}"`);
      }
      this.list.addSubnet(net!, prefix, type);
    }
    this.empty = cidrs.length === 0;
  }

  allows(peer: string): boolean {
    if (this.empty) return true;
    if (isIPv4(peer)) return this.list.check(peer, 'ipv4');
    if (isIPv6(peer)) return this.list.check(peer, 'ipv6');
    return false;
  }
}
