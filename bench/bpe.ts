// The BPE trainer and encoder in the browser, timed: Tiny Shakespeare (served by
// the same dev server from public/) trained to a vocabulary, then encoded whole.
// The same function runs in Node (scripts/bench-bpe.mjs loads this module there).
import { BpeEncoder } from '../src/tokenizer/encoder';
import { trainBpe } from '../src/tokenizer/trainer';

export interface BpeTiming {
  chars: number;
  vocabSize: number;
  tokens: number;
  merges: number;
  trainMs: number;
  encodeMs: number;
  encodedTokens: number;
  charsPerToken: number;
  /** Encoded again with a warm per-piece cache. */
  encodeWarmMs: number;
}

export function timeBpe(text: string, vocabSize: number): BpeTiming {
  const t0 = performance.now();
  const r = trainBpe(text, vocabSize);
  const trainMs = performance.now() - t0;
  if (!r.ok) throw new Error(r.message);
  const t1 = performance.now();
  const encoder = new BpeEncoder(r.model);
  const ids = encoder.encode(text);
  const encodeMs = performance.now() - t1;
  const t2 = performance.now();
  encoder.encode(text);
  const encodeWarmMs = performance.now() - t2;
  if (encoder.decode(ids) !== text) throw new Error('decode(encode(text)) differs from the text');
  const chars = [...text].length;
  return {
    chars,
    vocabSize,
    tokens: r.model.tokens.length,
    merges: r.model.merges.length,
    trainMs,
    encodeMs,
    encodedTokens: ids.length,
    charsPerToken: chars / ids.length,
    encodeWarmMs,
  };
}

declare global {
  interface Window {
    bpeBench?: (vocabSize: number) => Promise<BpeTiming>;
  }
}

if (typeof window !== 'undefined') {
  window.bpeBench = async (vocabSize) => {
    const text = await (await fetch('/data/tinyshakespeare.txt')).text();
    return timeBpe(text, vocabSize);
  };
  document.getElementById('log')!.textContent = 'BPE benchmark ready.';
}
