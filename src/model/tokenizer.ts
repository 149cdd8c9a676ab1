// The model's character tokenizer, built from the corpus exactly as nanoGPT's
// prepare.py does: the sorted unique characters. Characters are Unicode code
// points (so an emoji is one token, never two UTF-16 halves), sorted by code
// point, which is Python's sort order for str.

export class CharTokenizer {
  readonly vocab: string[];
  private readonly index: Map<string, number>;

  constructor(vocab: string[]) {
    this.vocab = vocab;
    this.index = new Map(vocab.map((ch, i) => [ch, i]));
  }

  static fromText(text: string): CharTokenizer {
    const seen = new Set<string>();
    for (const ch of text) seen.add(ch);
    const vocab = [...seen].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new CharTokenizer(vocab);
  }

  get size(): number {
    return this.vocab.length;
  }

  has(ch: string): boolean {
    return this.index.has(ch);
  }

  /** Token id of a character, or -1 when the model has never seen it. */
  id(ch: string): number {
    return this.index.get(ch) ?? -1;
  }

  /** Ids of every character; unknown characters are dropped and reported. */
  encode(text: string): { ids: Int32Array; unknown: string[] } {
    const ids: number[] = [];
    const unknown = new Set<string>();
    for (const ch of text) {
      const id = this.index.get(ch);
      if (id === undefined) unknown.add(ch);
      else ids.push(id);
    }
    return { ids: Int32Array.from(ids), unknown: [...unknown] };
  }

  decode(ids: ArrayLike<number>): string {
    let out = '';
    for (let i = 0; i < ids.length; i++) out += this.vocab[ids[i]] ?? '';
    return out;
  }
}
