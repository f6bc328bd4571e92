/** What a source hands downstream: one framed record's text, or why it rejected one. */

export type Proto = 'tcp' | 'udp';

/** Why a record never became a LogEvent. Label values of `decode_errors_total{reason}`. */
export type RejectReason =
  | 'invalid_json'
  | 'not_object'
  | 'missing_msg'
  | 'invalid_utf8'
  | 'too_long'
  | 'fragment'
  | 'empty'
  | 'not_allowed';

export interface RecordSink {
  /** A complete, valid UTF-8 record (without its newline). `peer` is the sender's IP. */
  record(text: string, peer: string, proto: Proto, receivedMs: number): void;
  /** A record dropped before decoding. */
  reject(reason: RejectReason, peer: string, proto: Proto): void;
  /** Bytes read from the socket, framing included. */
  bytes(n: number, proto: Proto): void;
}

/** `::ffff:10.0.0.5` → `10.0.0.5`, so IPv4 peers look the same on dual-stack sockets. */
export function normalisePeer(addr: string | undefined): string {
  if (addr === undefined) return 'unknown';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}
