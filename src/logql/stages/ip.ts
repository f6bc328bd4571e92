/**
 * `ip("…")` in label filters (`addr = ip("10.0.0.0/8")`) and line filters
 * (`|= ip("192.168.0.1-192.168.0.9")`), as pkg/logql/log/ip.go: the pattern
 * is one address, a CIDR prefix or an inclusive range (Go net/netip and
 * netipx parsing rules: no leading zeros in IPv4, IPv4 and IPv6 never equal
 * each other). A line filter scans the line for address-looking spans
 * (ip.go's ipv4Hint/ipv6Hint) and matches if any parses and is inside.
 */

interface Addr {
  v6: boolean;
  n: bigint;
}

type IpMatcher = { k: 'addr'; a: Addr } | { k: 'range'; lo: Addr; hi: Addr };

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === '0')) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = (n << 8n) | BigInt(v);
  }
  return n;
}

function parseV6(s: string): bigint | undefined {
  const pct = s.indexOf('%');
  if (pct >= 0) {
    if (pct === s.length - 1) return undefined;
    s = s.slice(0, pct);
  }
  let groups: number[] = [];
  let tail4: bigint | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    tail4 = parseV4(s.slice(lastColon + 1));
    if (tail4 === undefined) return undefined;
    s = s.slice(0, lastColon + 1) + (s.endsWith('::') ? '' : '0:0');
    if (s.endsWith('::0:0')) s = s.slice(0, -3);
  }
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return undefined;
  const parseGroups = (t: string): number[] | undefined => {
    if (t === '') return [];
    const out: number[] = [];
    for (const g of t.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const want = 8;
  if (dbl >= 0) {
    const a = parseGroups(s.slice(0, dbl));
    const b = parseGroups(s.slice(dbl + 2));
    if (a === undefined || b === undefined) return undefined;
    const fill = want - a.length - b.length;
    if (fill < 1) return undefined;
    groups = [...a, ...new Array<number>(fill).fill(0), ...b];
  } else {
    const a = parseGroups(s);
    if (a === undefined || a.length !== want) return undefined;
    groups = a;
  }
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(g);
  if (tail4 !== undefined) n = (n & ~0xffffffffn) | tail4;
  return n;
}

/** netip.ParseAddr. */
export function parseAddr(s: string): Addr | undefined {
  if (s.includes(':')) {
    const n = parseV6(s);
    return n === undefined ? undefined : { v6: true, n };
  }
  const n = parseV4(s);
  return n === undefined ? undefined : { v6: false, n };
}

function parseMatcher(pattern: string): IpMatcher | undefined {
  const a = parseAddr(pattern);
  if (a !== undefined) return { k: 'addr', a };
  const slash = pattern.indexOf('/');
  if (slash >= 0) {
    const base = parseAddr(pattern.slice(0, slash));
    const bitsText = pattern.slice(slash + 1);
    if (base === undefined || !/^(?:0|[1-9]\d{0,2})$/.test(bitsText) || pattern.includes('%')) return undefined;
    const width = base.v6 ? 128 : 32;
    const bits = Number(bitsText);
    if (bits > width) return undefined;
    const hostBits = BigInt(width - bits);
    const lo = (base.n >> hostBits) << hostBits;
    const hi = lo | ((1n << hostBits) - 1n);
    return { k: 'range', lo: { v6: base.v6, n: lo }, hi: { v6: base.v6, n: hi } };
  }
  const dash = pattern.indexOf('-');
  if (dash >= 0) {
    const lo = parseAddr(pattern.slice(0, dash));
    const hi = parseAddr(pattern.slice(dash + 1));
    if (lo === undefined || hi === undefined || lo.v6 !== hi.v6 || hi.n < lo.n || pattern.includes('%')) return undefined;
    return { k: 'range', lo, hi };
  }
  return undefined;
}

const V4_CHARS = /^[0-9.]*/;
const V6_CHARS = /^[0-9a-fA-F:.]*/;

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}
function isHex(c: string | undefined): boolean {
  return c !== undefined && /^[0-9a-fA-F]$/.test(c);
}

export class IpFilter {
  private readonly m: IpMatcher;

  /** Throws `ip: invalid pattern: "…"` for a pattern that is none of the three forms. */
  constructor(readonly pattern: string) {
    const m = parseMatcher(pattern);
    if (m === undefined) throw new Error(`ip: invalid pattern: ${JSON.stringify(pattern)}`);
    this.m = m;
  }

  contains(a: Addr): boolean {
    if (this.m.k === 'addr') return this.m.a.v6 === a.v6 && this.m.a.n === a.n;
    return this.m.lo.v6 === a.v6 && a.n >= this.m.lo.n && a.n <= this.m.hi.n;
  }

  /** ip.go ipFilter.filter: some address-looking span of `s` parses and matches. */
  test(s: string): boolean {
    const n = s.length;
    for (let i = 0; i < n; i++) {
      const c0 = s[i];
      const v4 = i + 3 < n && isDigit(c0) && (s[i + 1] === '.' || s[i + 2] === '.' || s[i + 3] === '.');
      let v6 = false;
      if (!v4) {
        const [a, b, c, d, e] = [s[i], s[i + 1], s[i + 2], s[i + 3], s[i + 4]];
        v6 =
          (a === ':' && b === ':' && isHex(c)) ||
          (isHex(a) && b === ':') ||
          (isHex(a) && isHex(b) && c === ':') ||
          (isHex(a) && isHex(b) && isHex(c) && d === ':') ||
          (isHex(a) && isHex(b) && isHex(c) && isHex(d) && e === ':');
      }
      if (!v4 && !v6) continue;
      const span = (v4 ? V4_CHARS : V6_CHARS).exec(s.slice(i, i + 64))![0];
      const a = parseAddr(span);
      if (a !== undefined && this.contains(a)) return true;
      i += span.length;
    }
    return false;
  }
}
