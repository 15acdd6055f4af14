import type { PreparedDigest } from './encoded-body.js';

/**
 * Rendered digests by content key (digest id and report ids), shared by the concurrent sends of one
 * worker process: 10,000 subscribers of one digest cost one render. Holds promises, so sends that
 * start together wait for the same render instead of each starting one; a failed render is
 * forgotten so the next attempt renders again. Least recently used entries go first.
 */
export class DigestRenderCache {
  private readonly entries = new Map<string, Promise<PreparedDigest>>();
  private readonly maxEntries: number;

  constructor(maxEntries = 16) {
    this.maxEntries = Math.max(1, maxEntries);
  }

  get(key: string, render: () => Promise<PreparedDigest>): Promise<PreparedDigest> {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const made = render();
    this.entries.set(key, made);
    made.catch(() => {
      // The caller handles the error; here it only means "do not keep this entry".
      if (this.entries.get(key) === made) this.entries.delete(key);
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
    return made;
  }

  get size(): number {
    return this.entries.size;
  }
}
