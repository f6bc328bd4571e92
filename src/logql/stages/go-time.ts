/**
 * Go time formatting for LogQL templates (`date "2006-01-02" __timestamp__`):
 * Go's reference-time layouts (time/format.go nextStdChunk), in UTC — Loki
 * formats in the process's local zone, which is UTC in its images.
 */
import { GoTime } from '../../gotemplate/values.js';

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const p2 = (n: number): string => String(n).padStart(2, '0');

/** Layout chunks, longest first where one is a prefix of another (as nextStdChunk decides). */
const CHUNKS: Array<[string, (d: Date, ns: number) => string]> = [
  ['January', (d) => MONTHS[d.getUTCMonth()]!],
  ['Jan', (d) => MONTHS[d.getUTCMonth()]!.slice(0, 3)],
  ['Monday', (d) => DAYS[d.getUTCDay()]!],
  ['Mon', (d) => DAYS[d.getUTCDay()]!.slice(0, 3)],
  ['MST', () => 'UTC'],
  ['2006', (d) => String(d.getUTCFullYear()).padStart(4, '0')],
  ['002', (d) => String(Math.floor((Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000) + 1).padStart(3, '0')],
  ['01', (d) => p2(d.getUTCMonth() + 1)],
  ['02', (d) => p2(d.getUTCDate())],
  ['03', (d) => p2(d.getUTCHours() % 12 === 0 ? 12 : d.getUTCHours() % 12)],
  ['04', (d) => p2(d.getUTCMinutes())],
  ['05', (d) => p2(d.getUTCSeconds())],
  ['06', (d) => p2(d.getUTCFullYear() % 100)],
  ['15', (d) => p2(d.getUTCHours())],
  ['_2', (d) => String(d.getUTCDate()).padStart(2, ' ')],
  ['1', (d) => String(d.getUTCMonth() + 1)],
  ['2', (d) => String(d.getUTCDate())],
  ['3', (d) => String(d.getUTCHours() % 12 === 0 ? 12 : d.getUTCHours() % 12)],
  ['4', (d) => String(d.getUTCMinutes())],
  ['5', (d) => String(d.getUTCSeconds())],
  ['PM', (d) => (d.getUTCHours() >= 12 ? 'PM' : 'AM')],
  ['pm', (d) => (d.getUTCHours() >= 12 ? 'pm' : 'am')],
  ['Z07:00:00', () => 'Z'],
  ['Z070000', () => 'Z'],
  ['Z07:00', () => 'Z'],
  ['Z0700', () => 'Z'],
  ['Z07', () => 'Z'],
  ['-07:00:00', () => '+00:00:00'],
  ['-070000', () => '+000000'],
  ['-07:00', () => '+00:00'],
  ['-0700', () => '+0000'],
  ['-07', () => '+00'],
];

/** time.Time.Format(layout) in UTC. */
export function formatGoTime(t: GoTime, layout: string): string {
  const d = new Date(t.ms);
  const ns = (((t.ms % 1000) + 1000) % 1000) * 1_000_000 + t.nsRem;
  let out = '';
  for (let i = 0; i < layout.length; ) {
    // Fractional seconds: `.000` / `,999` not followed by a digit.
    const frac = /^[.,](0+|9+)(?![0-9])/.exec(layout.slice(i));
    if (frac !== null && i > 0 && /[0-9]/.test(layout[i - 1]!)) {
      const digits = String(ns).padStart(9, '0').slice(0, frac[1]!.length);
      if (frac[1]![0] === '0') out += layout[i]! + digits;
      else {
        const trimmed = digits.replace(/0+$/, '');
        if (trimmed !== '') out += layout[i]! + trimmed;
      }
      i += frac[0].length;
      continue;
    }
    const chunk = CHUNKS.find(([k]) => layout.startsWith(k, i));
    if (chunk !== undefined) {
      out += chunk[1](d, ns);
      i += chunk[0].length;
      continue;
    }
    out += layout[i]!;
    i++;
  }
  return out;
}

/** Loki's unixToTime: epoch days (5 digits), s (10), ms (13), µs (16) or ns (19). */
export function unixToTime(epoch: string): GoTime {
  if (!/^[+-]?\d+$/.test(epoch)) throw new Error(`unable to parse time '${epoch}': strconv.ParseInt: parsing ${JSON.stringify(epoch)}: invalid syntax`);
  const n = BigInt(epoch);
  switch (epoch.length) {
    case 5:
      return new GoTime(Number(n) * 86_400_000, 0);
    case 10:
      return new GoTime(Number(n) * 1000, 0);
    case 13:
      return new GoTime(Number(n), 0);
    case 16:
      return new GoTime(Number(n / 1000n), Number(n % 1000n) * 1000);
    case 19:
      return new GoTime(Number(n / 1_000_000n), Number(n % 1_000_000n));
    default:
      throw new Error(`unable to parse time '${epoch}': <nil>`);
  }
}

/** Unix nanoseconds of a time, as a decimal string. */
export function unixNanos(t: GoTime): string {
  return (BigInt(t.ms) * 1_000_000n + BigInt(t.nsRem)).toString();
}
