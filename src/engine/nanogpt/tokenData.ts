// A run on tokens, prepared for nanoGPT the way its prepare scripts leave a
// dataset: train.bin / val.bin (the token ids, uint16; uint32 when the
// vocabulary exceeds 65,535) and meta.pkl ({vocab_size, itos, stoi}, what
// sample.py reads), written here because the browser already has the ids.
// meta.pkl also keeps the run's tokenizer (playground_tokenizer: the JSON a
// checkpoint's metadata holds: a BPE's .tiktoken ranks and split pattern, or an
// OpenAI encoding's ranks), so ckpt_to_playground.py writes it back.
import type { TokenizerSpec } from '../../model/runTokenizer';

export interface TokenData {
  train: Int32Array;
  val: Int32Array;
  /** Each id's text (itos). */
  vocab: string[];
  /** "BPE on Tiny Shakespeare (512)", "cl100k_base". */
  label: string;
  /** The tokenizer, as a checkpoint keeps it. */
  spec?: TokenizerSpec;
}

/** Ids as nanoGPT's np.uint16 .tofile() writes them (little-endian); uint32 past 65,535. */
export function idsFile(ids: Int32Array, wide: boolean): Uint8Array {
  const out = wide ? new Uint32Array(ids.length) : new Uint16Array(ids.length);
  out.set(ids);
  return new Uint8Array(out.buffer);
}

/** Whether the ids need uint32 (nanoGPT's train.py reads uint16 unless told). */
export const needsWide = (vocabSize: number): boolean => vocabSize > 65535;

/** Python's pickle (protocol 2) of {'vocab_size': V, 'itos': {i: s}, 'stoi': {s: i}} (+ 'playground_tokenizer': its spec as JSON). */
export function metaPickle(vocab: string[], spec?: TokenizerSpec): Uint8Array {
  const parts: number[] = [0x80, 2, 0x7d, 0x28]; // PROTO 2, EMPTY_DICT, MARK
  const enc = new TextEncoder();
  const u32 = (n: number) => parts.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  const str = (s: string) => {
    const b = enc.encode(s);
    parts.push(0x58); // BINUNICODE
    u32(b.length);
    for (const x of b) parts.push(x);
  };
  const int = (n: number) => {
    parts.push(0x4a); // BININT
    u32(n);
  };
  str('vocab_size');
  int(vocab.length);
  str('itos');
  parts.push(0x7d, 0x28);
  vocab.forEach((s, i) => {
    int(i);
    str(s);
  });
  parts.push(0x75); // SETITEMS
  str('stoi');
  parts.push(0x7d, 0x28);
  vocab.forEach((s, i) => {
    str(s);
    int(i);
  });
  parts.push(0x75); // SETITEMS (stoi)
  if (spec) {
    str('playground_tokenizer');
    str(JSON.stringify(spec));
  }
  parts.push(0x75, 0x2e); // SETITEMS (outer), STOP
  return Uint8Array.from(parts);
}
