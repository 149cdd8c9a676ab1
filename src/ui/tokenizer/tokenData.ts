// The token splits of a run on tokens, for the nanoGPT zip: the tokenizer is
// read back from the exported checkpoint's metadata (so a reopened or imported
// run gets its own), and the corpus encoded as the engine encoded it.
import type { TokenData } from '../../engine/nanogpt/tokenData';
import { RunTokenizer, type TokenizerSpec } from '../../model/runTokenizer';
import { readSafetensors } from '../../model/safetensors';

/** Null for a character run (its prepare.py encodes the text in nanoGPT). */
export async function tokenDataOf(checkpoint: Uint8Array, text: string): Promise<TokenData | null> {
  const raw = readSafetensors(checkpoint).metadata.tokenizer;
  if (raw === undefined) return null;
  const spec = JSON.parse(raw) as TokenizerSpec;
  const tokenizer = await RunTokenizer.fromSpec(spec);
  const { train, val } = tokenizer.splitCorpus(text);
  return { train, val, vocab: tokenizer.vocab, label: tokenizer.label, spec };
}
