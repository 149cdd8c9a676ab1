// The two OpenAI encodings (cl100k_base, o200k_base), loaded on first use only: their rank tables are
// megabytes, so they stay out of the first paint.
import type { Tiktoken } from 'js-tiktoken/lite';

export type BpeName = 'cl100k_base' | 'o200k_base';
export const BPE_NAMES: BpeName[] = ['cl100k_base', 'o200k_base'];

export interface BpeEncoder {
  name: BpeName;
  encode: (text: string) => number[];
  tokenBytes: (id: number) => Uint8Array;
}

const cache = new Map<BpeName, Promise<BpeEncoder>>();

async function create(name: BpeName): Promise<BpeEncoder> {
  const [{ Tiktoken }, ranks] = await Promise.all([
    import('js-tiktoken/lite'),
    name === 'cl100k_base' ? import('js-tiktoken/ranks/cl100k_base') : import('js-tiktoken/ranks/o200k_base'),
  ]);
  const enc: Tiktoken = new Tiktoken(ranks.default);
  // js-tiktoken keeps each rank's bytes in textMap; it is not in its typings.
  const textMap = (enc as unknown as { textMap: Map<number, Uint8Array> }).textMap;
  return {
    name,
    // Special-token text such as <|endoftext|> is encoded as ordinary text, as in tiktokenizer's default.
    encode: (text) => enc.encode(text, [], []),
    tokenBytes: (id) => textMap.get(id) ?? new TextEncoder().encode(enc.decode([id])),
  };
}

export function loadBpe(name: BpeName): Promise<BpeEncoder> {
  let p = cache.get(name);
  if (!p) {
    p = create(name);
    cache.set(name, p);
  }
  return p;
}
