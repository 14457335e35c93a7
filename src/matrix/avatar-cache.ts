/**
 * The avatar proxy's memory: entries kept by total size in bytes, not by count, so a few large
 * pictures cannot take hundreds of MB (40 avatars once held 212 MB under a 500-entry cap). Least
 * recently served go first; an entry larger than the whole budget is not kept at all.
 */
export interface CachedAvatar {
  data: Buffer;
  mime: string;
  at: number;
}

export class AvatarCache {
  private readonly entries = new Map<string, CachedAvatar>();
  private total = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes held now (the pictures' sizes). */
  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): CachedAvatar | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      // Re-insert: a Map iterates in insertion order, so the first key is the least recently used.
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: CachedAvatar): void {
    this.delete(key);
    if (value.data.length > this.maxBytes) return;
    this.entries.set(key, value);
    this.total += value.data.length;
    while (this.total > this.maxBytes) {
      const oldest = this.entries.keys().next().value as string;
      this.delete(oldest);
    }
  }

  private delete(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.entries.delete(key);
    this.total -= old.data.length;
  }
}
