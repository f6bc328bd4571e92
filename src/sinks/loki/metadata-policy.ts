/**
 * What structured metadata this Loki gets, learned from its answers.
 *
 * `auto` sends metadata until Loki refuses it ("… includes structured
 * metadata, but this feature is disallowed …": Loki 2.9's default, Loki 3
 * with `allow_structured_metadata: false` or a schema older than v13; text
 * from pkg/validation/validate.go), then pushes without it for the rest of
 * the run. Limits Loki reports (`max_structured_metadata_size`,
 * `max_structured_metadata_entries_count`) are remembered and every entry is
 * trimmed to them before it is encoded; sizes are measured as Loki does
 * (pkg/util/entry_size.go: name + value bytes).
 */
import { lokiMetadataName } from './metadata-name.js';

export type MetadataSetting = boolean | 'auto';

export class MetadataPolicy {
  private enabled: boolean;
  /** Learned limits; 0 = none known. */
  private maxBytes = 0;
  private maxCount = 0;

  constructor(
    readonly setting: MetadataSetting,
    /** An entry's metadata was cut to fit a limit (counted per line). */
    private readonly onTrim: () => void,
  ) {
    this.enabled = setting !== false;
  }

  /** Metadata is sent at all. */
  /** Sending metadata with no limit learnt: every pair goes as is (callers may skip `pairs`). */
  get unlimited(): boolean {
    return this.enabled && this.maxBytes === 0 && this.maxCount === 0;
  }

  get sending(): boolean {
    return this.enabled;
  }

  /** Loki refused metadata. Returns true when this switched it off (auto); with `true` it stays on. */
  refuse(): boolean {
    if (this.setting !== 'auto' || !this.enabled) return false;
    this.enabled = false;
    return true;
  }

  /** Loki reported a limit (bytes or entries per line). Returns true when it is new or tighter. */
  learn(limit: { bytes?: number; count?: number }): boolean {
    let changed = false;
    if (limit.bytes !== undefined && limit.bytes > 0 && (this.maxBytes === 0 || limit.bytes < this.maxBytes)) {
      this.maxBytes = limit.bytes;
      changed = true;
    }
    if (limit.count !== undefined && limit.count > 0 && (this.maxCount === 0 || limit.count < this.maxCount)) {
      this.maxCount = limit.count;
      changed = true;
    }
    return changed;
  }

  get limits(): { bytes: number; count: number } {
    return { bytes: this.maxBytes, count: this.maxCount };
  }

  /**
   * The pairs to send for `md` (names as Loki keeps them), within the known
   * limits; undefined when there are none or metadata is off. Fields are
   * kept in record order and the first that does not fit ends the list.
   */
  pairs(md: Readonly<Record<string, string>> | undefined): { name: string; value: string }[] | undefined {
    if (!this.enabled || md === undefined) return undefined;
    let out: { name: string; value: string }[] | undefined;
    if (this.maxCount === 0 && this.maxBytes === 0) {
      // No limit learnt yet (the usual case): no sizes to add up.
      for (const k in md) (out ??= []).push({ name: lokiMetadataName(k), value: md[k]! });
      return out;
    }
    let size = 0;
    let trimmed = false;
    for (const k in md) {
      const name = lokiMetadataName(k);
      const value = md[k]!;
      const len = Buffer.byteLength(name) + Buffer.byteLength(value);
      if ((this.maxCount > 0 && (out?.length ?? 0) >= this.maxCount) || (this.maxBytes > 0 && size + len > this.maxBytes)) {
        trimmed = true;
        break;
      }
      size += len;
      (out ??= []).push({ name, value });
    }
    if (trimmed) this.onTrim();
    return out;
  }

  /** True when Loki would refuse `md` as sent before the limits were known (for choosing what to resend). */
  static size(md: Readonly<Record<string, string>> | undefined): { bytes: number; count: number } {
    let bytes = 0;
    let count = 0;
    if (md !== undefined) {
      for (const k in md) {
        bytes += Buffer.byteLength(lokiMetadataName(k)) + Buffer.byteLength(md[k]!);
        count++;
      }
    }
    return { bytes, count };
  }
}
