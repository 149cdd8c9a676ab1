// A binary max-heap of (count, key, pair) entries: the highest count first, and
// among equal counts the smallest key (the pair's first occurrence in the text).
// Entries are never updated in place: a pair whose count or key changes gets a
// new entry, and the trainer discards entries that no longer match the pair
// (lazy deletion).

export class PairHeap {
  private count: number[] = [];
  private key: number[] = [];
  private pair: number[] = [];

  get size(): number {
    return this.pair.length;
  }

  /** Is entry i before entry j? */
  private before(i: number, j: number): boolean {
    const ci = this.count[i]!;
    const cj = this.count[j]!;
    return ci > cj || (ci === cj && this.key[i]! < this.key[j]!);
  }

  private swap(i: number, j: number): void {
    const c = this.count[i]!;
    this.count[i] = this.count[j]!;
    this.count[j] = c;
    const k = this.key[i]!;
    this.key[i] = this.key[j]!;
    this.key[j] = k;
    const p = this.pair[i]!;
    this.pair[i] = this.pair[j]!;
    this.pair[j] = p;
  }

  push(count: number, key: number, pair: number): void {
    let i = this.pair.length;
    this.count.push(count);
    this.key.push(key);
    this.pair.push(pair);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** The top entry's fields; call only when size > 0. */
  topCount(): number {
    return this.count[0]!;
  }
  topKey(): number {
    return this.key[0]!;
  }
  topPair(): number {
    return this.pair[0]!;
  }

  pop(): void {
    const last = this.pair.length - 1;
    if (last > 0) this.swap(0, last);
    this.count.pop();
    this.key.pop();
    this.pair.pop();
    const n = this.pair.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < n && this.before(l, best)) best = l;
      if (r < n && this.before(r, best)) best = r;
      if (best === i) break;
      this.swap(i, best);
      i = best;
    }
  }
}
