// A run's tokenizer: how its text becomes the model's token ids and back.
// Four kinds: characters (nanoGPT's shakespeare_char), a byte-level BPE trained
// on the corpus (src/tokenizer), and OpenAI's cl100k_base / o200k_base
// (js-tiktoken's rank tables, loaded on first use).
//
// For the two OpenAI encodings the model's vocabulary is only the tokens that
// occur in the corpus, ordered by rank and renumbered 0..V-1, so a model on a
// 100k-token encoding keeps an embedding the size of what it reads. A trained
// BPE keeps its whole vocabulary (ids = ranks).
//
// Byte-level tokens need not end on a character boundary: decoding goes through
// a streaming UTF-8 decoder that holds a partial character until its last byte
// arrives (TokenTextStream).
import type { Tiktoken } from 'js-tiktoken/lite';
import { BpeEncoder } from '../tokenizer/encoder';
import type { BpeModel } from '../tokenizer/model';
import { compilePattern } from '../tokenizer/pieces';
import { parseTiktoken, toTiktoken } from '../tokenizer/tiktokenFile';
import { TRAIN_FRACTION } from './data';
import { vocabularyProblem } from './dpo';
import { CharTokenizer } from './tokenizer';

export type OpenAiEncoding = 'cl100k_base' | 'o200k_base';
export type TokenizerKind = 'char' | 'bpe' | OpenAiEncoding;
export const OPENAI_ENCODINGS: OpenAiEncoding[] = ['cl100k_base', 'o200k_base'];

/** What a checkpoint keeps to rebuild a run's tokenizer exactly. */
export type TokenizerSpec =
  | { kind: 'char'; vocab: string[] }
  /** A trained BPE: its rank file (`.tiktoken` text) and split pattern; model id = rank. */
  | { kind: 'bpe'; name: string; pattern: string; tiktoken: string }
  /** An OpenAI encoding: the rank of each model id, ascending. */
  | { kind: OpenAiEncoding; ranks: number[] };

/** What a new run may read its corpus with (a trained BPE travels as its model). */
export type TokenizerChoice = { kind: 'char' } | { kind: 'bpe'; name: string; model: BpeModel } | { kind: OpenAiEncoding };

/** The page's view of a run's tokenizer. */
export interface TokenizerInfo {
  kind: TokenizerKind;
  /** "characters", "BPE on Tiny Shakespeare (512)", "cl100k_base". */
  label: string;
  /** The model's vocabulary. */
  size: number;
  /** Tokens of the whole tokenizer (more than size for an OpenAI encoding). */
  fullSize: number;
}

/** Cuts text into the pattern's pieces and encodes one piece into ranks. */
interface PieceEncoder {
  regex: RegExp;
  /** Tokens of the full encoding. */
  size: number;
  encodePiece(piece: string): number[];
  tokenBytes(rank: number): Uint8Array;
}

/** The token splits of a corpus: the text cut at 90% of its characters, each part encoded. */
export interface TokenSplits {
  train: Int32Array;
  val: Int32Array;
  trainChars: number;
  valChars: number;
}

const decoderLossy = new TextDecoder('utf-8');

/** Holds bytes of an unfinished character until the token that completes it arrives. */
export class TokenTextStream {
  private readonly decoder = new TextDecoder('utf-8');
  constructor(private readonly tokenizer: RunTokenizer) {}

  /** The text this token completes (possibly empty while a character is unfinished). */
  push(id: number): string {
    return this.decoder.decode(this.tokenizer.tokenBytes(id), { stream: true });
  }

  /** Whatever is still held, as replacement characters. */
  end(): string {
    return this.decoder.decode();
  }
}

export class RunTokenizer {
  /** Each model id's text, for labels (a partial UTF-8 sequence shows as U+FFFD). */
  readonly vocab: string[];
  private readonly bytes: Uint8Array[];
  private readonly idOfRank: Map<number, number> | null;
  private readonly charIndex: CharTokenizer | null;
  private readonly idOfText = new Map<string, number>();

  private constructor(
    readonly kind: TokenizerKind,
    private readonly pieces: PieceEncoder | null,
    /** Model id -> rank in the full encoding; null when they are the same (characters, a trained BPE). */
    readonly ranks: number[] | null,
    charVocab: string[] | null,
    /** A trained BPE's name and model, kept for its spec. */
    private readonly bpe: { name: string; model: BpeModel } | null,
  ) {
    if (charVocab) {
      this.charIndex = new CharTokenizer(charVocab);
      this.vocab = charVocab;
      this.bytes = charVocab.map((ch) => new TextEncoder().encode(ch));
      this.idOfRank = null;
    } else {
      const p = pieces!;
      const count = ranks ? ranks.length : p.size;
      this.charIndex = null;
      this.bytes = Array.from({ length: count }, (_, id) => p.tokenBytes(ranks ? ranks[id]! : id));
      this.vocab = this.bytes.map((b) => decoderLossy.decode(b));
      this.idOfRank = ranks ? new Map(ranks.map((r, id) => [r, id])) : null;
    }
    this.vocab.forEach((text, id) => {
      if (!this.idOfText.has(text)) this.idOfText.set(text, id);
    });
  }

  static chars(vocab: string[]): RunTokenizer {
    return new RunTokenizer('char', null, null, vocab, null);
  }

  static charsOf(text: string): RunTokenizer {
    return RunTokenizer.chars(CharTokenizer.fromText(text).vocab);
  }

  /** A trained BPE, whole vocabulary. */
  static bpe(name: string, model: BpeModel): RunTokenizer {
    const enc = new BpeEncoder(model);
    const regex = compilePattern(model.pattern) as RegExp;
    return new RunTokenizer(
      'bpe',
      { regex, size: enc.vocabSize, encodePiece: (p) => enc.encodePiece(p), tokenBytes: (r) => enc.tokenBytes(r) },
      null,
      null,
      { name, model },
    );
  }

  /** An OpenAI encoding restricted to the given ranks (ascending). */
  static async openAi(encoding: OpenAiEncoding, ranks: number[]): Promise<RunTokenizer> {
    return new RunTokenizer(encoding, await openAiPieces(encoding), ranks, null, null);
  }

  /** Rebuilds a run's tokenizer from its spec; a sentence when the spec is damaged. */
  static async fromSpec(spec: TokenizerSpec): Promise<RunTokenizer> {
    if (spec.kind === 'char') return RunTokenizer.chars(spec.vocab);
    if (spec.kind === 'bpe') {
      const parsed = parseTiktoken(spec.name, spec.tiktoken);
      if (!parsed.ok) throw new Error(`The run's tokenizer cannot be read back: ${parsed.message}`);
      return RunTokenizer.bpe(spec.name, { ...parsed.model, pattern: spec.pattern });
    }
    if (!OPENAI_ENCODINGS.includes(spec.kind)) throw new Error(`The run's tokenizer "${String((spec as { kind: unknown }).kind)}" is not one this app knows.`);
    return RunTokenizer.openAi(spec.kind, spec.ranks);
  }

  /**
   * A run's tokenizer for a corpus, with its splits: characters are the text's
   * own; an OpenAI encoding keeps the tokens that occur in the text.
   */
  static async forCorpus(
    choice: TokenizerChoice,
    text: string,
  ): Promise<{ tokenizer: RunTokenizer; splits: TokenSplits }> {
    if (choice.kind === 'char') {
      const tokenizer = RunTokenizer.charsOf(text);
      return { tokenizer, splits: tokenizer.splitCorpus(text) };
    }
    if (choice.kind === 'bpe') {
      const tokenizer = RunTokenizer.bpe(choice.name, choice.model);
      return { tokenizer, splits: tokenizer.splitCorpus(text) };
    }
    const pieces = await openAiPieces(choice.kind);
    const { trainText, valText, trainChars, valChars } = cutText(text);
    const trainRanks = encodeRanks(pieces, trainText);
    const valRanks = encodeRanks(pieces, valText);
    const used = new Set<number>();
    for (const r of trainRanks) used.add(r);
    for (const r of valRanks) used.add(r);
    const ranks = [...used].sort((a, b) => a - b);
    const tokenizer = new RunTokenizer(choice.kind, pieces, ranks, null, null);
    const local = (rs: number[]) => Int32Array.from(rs, (r) => tokenizer.idOfRank!.get(r)!);
    return { tokenizer, splits: { train: local(trainRanks), val: local(valRanks), trainChars, valChars } };
  }

  /** The model's vocabulary size. */
  get size(): number {
    return this.vocab.length;
  }

  /** Tokens of the full encoding (for an OpenAI encoding, more than the model's vocabulary). */
  get fullSize(): number {
    return this.pieces ? this.pieces.size : this.size;
  }

  /** "characters", "BPE shakespeare (512)", "cl100k_base". */
  get label(): string {
    if (this.kind === 'char') return 'characters';
    if (this.kind === 'bpe') return `BPE ${this.bpe!.name} (${this.fullSize.toLocaleString('en-US')})`;
    return this.kind;
  }

  info(): TokenizerInfo {
    return { kind: this.kind, label: this.label, size: this.size, fullSize: this.fullSize };
  }

  spec(): TokenizerSpec {
    if (this.kind === 'char') return { kind: 'char', vocab: this.vocab };
    if (this.kind === 'bpe') return { kind: 'bpe', name: this.bpe!.name, pattern: this.bpe!.model.pattern, tiktoken: toTiktoken(this.bpe!.model) };
    return { kind: this.kind, ranks: this.ranks! };
  }

  tokenBytes(id: number): Uint8Array {
    return this.bytes[id] ?? new Uint8Array(0);
  }

  has(text: string): boolean {
    return this.idOfText.has(text);
  }

  /** The id of the token whose text is exactly this (a character, "\n"), or -1. */
  id(text: string): number {
    return this.idOfText.get(text) ?? -1;
  }

  /** Model ids of the text; pieces (or, for characters, characters) the vocabulary lacks are left out and listed. */
  encode(text: string): { ids: Int32Array; unknown: string[] } {
    if (this.charIndex) return this.charIndex.encode(text);
    const ids: number[] = [];
    const unknown = new Set<string>();
    for (const m of text.matchAll(this.pieces!.regex)) {
      const ranks = this.pieces!.encodePiece(m[0]);
      const local = this.idOfRank ? ranks.map((r) => this.idOfRank!.get(r) ?? -1) : ranks;
      if (local.some((id) => id < 0)) unknown.add(m[0]);
      else for (const id of local) ids.push(id);
    }
    return { ids: Int32Array.from(ids), unknown: [...unknown] };
  }

  /**
   * A sentence naming what of `text` the run's vocabulary cannot encode, or null:
   * its characters for a character run, its pieces for a run on tokens (a
   * trained BPE encodes any text; cl100k_base / o200k_base keep only the
   * corpus's tokens). Parts (a preference pair's prompt and responses) are
   * encoded each on its own, as the model reads them. LoRA targets and
   * preference pairs go through it.
   */
  encodeProblem(text: string | string[], what = 'The text'): string | null {
    const parts = typeof text === 'string' ? [text] : text;
    if (this.charIndex) return vocabularyProblem(parts.join(''), this.vocab, what);
    const unknown = new Set<string>();
    for (const part of parts) for (const piece of this.encode(part).unknown) unknown.add(piece);
    return unknown.size ? unknownSentence([...unknown], what) : null;
  }

  decode(ids: ArrayLike<number>): string {
    const stream = new TokenTextStream(this);
    let out = '';
    for (let i = 0; i < ids.length; i++) out += stream.push(ids[i]!);
    return out + stream.end();
  }

  /** Each token's share of the decoded text: concatenated, they are decode(ids); a token that ends mid-character gets '' and the next one the character. */
  tokenTexts(ids: ArrayLike<number>): string[] {
    const stream = new TokenTextStream(this);
    const out = Array.from({ length: ids.length }, (_, i) => stream.push(ids[i]!));
    if (out.length > 0) out[out.length - 1] += stream.end();
    return out;
  }

  stream(): TokenTextStream {
    return new TokenTextStream(this);
  }

  /** The corpus cut at 90% of its characters, each part encoded; a sentence when a part cannot be encoded. */
  splitCorpus(text: string): TokenSplits {
    const { trainText, valText, trainChars, valChars } = cutText(text);
    const part = (t: string, name: string) => {
      const { ids, unknown } = this.encode(t);
      if (unknown.length) throw new Error(unknownSentence(unknown, `The ${name} text`));
      return ids;
    };
    return { train: part(trainText, 'training'), val: part(valText, 'validation'), trainChars, valChars };
  }
}

/** The safetensors metadata that carries a run's tokenizer (none for characters: the `vocab` metadata is enough). */
export function tokenizerMetadata(spec?: TokenizerSpec): Record<string, string> {
  return spec && spec.kind !== 'char' ? { tokenizer: JSON.stringify(spec) } : {};
}

/** The tokenizer a file's metadata carries, if any; a sentence when it is damaged. */
export function tokenizerFromMetadata(metadata: Record<string, string>): TokenizerSpec | undefined {
  if (metadata.tokenizer === undefined) return undefined;
  let spec: TokenizerSpec;
  try {
    spec = JSON.parse(metadata.tokenizer) as TokenizerSpec;
  } catch {
    throw new Error('The file\'s "tokenizer" metadata is not valid JSON.');
  }
  if (typeof spec !== 'object' || spec === null || typeof spec.kind !== 'string') throw new Error('The file\'s "tokenizer" metadata names no tokenizer.');
  return spec;
}

/** "The prompt has pieces this run's vocabulary cannot encode: "é", "€"." */
export function unknownSentence(unknown: string[], what = 'The prompt'): string {
  const shown = unknown.slice(0, 8).map((p) => JSON.stringify(p)).join(', ');
  return (
    `${what} has ${unknown.length === 1 ? 'a piece' : 'pieces'} this run's vocabulary cannot encode: ${shown}${unknown.length > 8 ? ` and ${unknown.length - 8} more` : ''}. ` +
    'Use only text like the corpus the model was trained on.'
  );
}

/** Both splits must hold one context plus the token it predicts; otherwise a sentence in tokens. */
export function tokenSplitProblem(splits: TokenSplits, blockSize: number, label: string): string | null {
  const need = blockSize + 1;
  if (splits.train.length >= need && splits.val.length >= need) return null;
  return (
    `The corpus is too short for this context in ${label}: its training part is ${splits.train.length} tokens and its validation part ${splits.val.length}, ` +
    `but each needs at least ${need} (the context length ${blockSize} plus one). Use a longer text or a shorter context.`
  );
}

/**
 * Bits per character of a split: the mean loss per token (nats) times the
 * split's tokens is its total loss; divided by its characters and ln 2.
 */
export function bitsPerChar(meanLossNats: number, tokens: number, chars: number): number {
  return chars > 0 ? (meanLossNats * tokens) / (chars * Math.LN2) : NaN;
}

/** The text cut at TRAIN_FRACTION of its characters (code points). */
function cutText(text: string): { trainText: string; valText: string; trainChars: number; valChars: number } {
  let chars = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
    chars++;
  }
  const trainChars = Math.floor(chars * TRAIN_FRACTION);
  let at = 0;
  for (let k = 0; k < trainChars; k++) {
    const c = text.charCodeAt(at);
    at += c >= 0xd800 && c <= 0xdbff && at + 1 < text.length ? 2 : 1;
  }
  return { trainText: text.slice(0, at), valText: text.slice(at), trainChars, valChars: chars - trainChars };
}

function encodeRanks(p: PieceEncoder, text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(p.regex)) for (const r of p.encodePiece(m[0])) out.push(r);
  return out;
}

const openAiCache = new Map<OpenAiEncoding, Promise<PieceEncoder>>();

/** js-tiktoken's encoding, piece by piece (the same tokens as encoding the whole text, special tokens as plain text). */
function openAiPieces(encoding: OpenAiEncoding): Promise<PieceEncoder> {
  let p = openAiCache.get(encoding);
  if (!p) {
    p = (async () => {
      const [{ Tiktoken }, ranks] = await Promise.all([
        import('js-tiktoken/lite'),
        encoding === 'cl100k_base' ? import('js-tiktoken/ranks/cl100k_base') : import('js-tiktoken/ranks/o200k_base'),
      ]);
      const enc: Tiktoken = new Tiktoken(ranks.default);
      // js-tiktoken keeps each rank's bytes in textMap; it is not in its typings.
      const textMap = (enc as unknown as { textMap: Map<number, Uint8Array> }).textMap;
      const cache = new Map<string, number[]>();
      return {
        regex: compilePattern(ranks.default.pat_str) as RegExp,
        size: textMap.size,
        encodePiece: (piece: string) => {
          let ids = cache.get(piece);
          if (!ids) cache.set(piece, (ids = enc.encode(piece, [], [])));
          return ids;
        },
        tokenBytes: (rank: number) => textMap.get(rank) ?? new Uint8Array(0),
      };
    })();
    openAiCache.set(encoding, p);
  }
  return p;
}

