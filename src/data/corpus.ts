// Corpus checks: bytes in, either the text and its statistics or one sentence
// that says what is wrong and what to do. Pure and chunked, so a worker can scan
// a file of tens of megabytes piece by piece and report progress.

/** Stated limits for a training text. */
export const CORPUS_LIMITS = {
  /** Largest file we read (bytes). */
  maxBytes: 64 * 1024 * 1024,
  /** Most distinct characters a character-level vocabulary may have. */
  maxVocab: 4096,
} as const;

/** nanoGPT's split: the first 90% of the characters train, the last 10% validate. */
export const TRAIN_FRACTION = 0.9;

export interface CorpusStats {
  /** UTF-8 size. */
  bytes: number;
  /** Length in characters (Unicode code points, the model's tokens). */
  chars: number;
  /** The distinct characters, sorted by code point (the model's vocabulary). */
  vocab: string[];
  trainChars: number;
  valChars: number;
  /** UTF-16 index in the text where the validation split starts. */
  splitIndex: number;
}

export type CorpusCheck = { ok: true; text: string; stats: CorpusStats } | { ok: false; message: string };

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** Characters a corpus needs for a context of blockSize: one window plus the character it predicts. */
export function minCorpusChars(blockSize: number): number {
  return blockSize + 1;
}

/** The size check that can run before a single byte is read. */
export function checkCorpusSize(name: string, bytes: number): string | null {
  if (bytes === 0) return `${name} is empty. Choose a plain-text file with some writing in it.`;
  if (bytes > CORPUS_LIMITS.maxBytes) {
    return `${name} is ${formatBytes(bytes)}, over the ${formatBytes(CORPUS_LIMITS.maxBytes)} limit. Use a shorter excerpt of it.`;
  }
  return null;
}

/**
 * Scans a text chunk by chunk: strict UTF-8 decoding, NUL bytes, the distinct
 * characters and the length, stopping at the first problem.
 */
export class CorpusScanner {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly parts: string[] = [];
  /** Code points below 0x10000 seen so far, one flag each. */
  private readonly seenBmp = new Uint8Array(0x10000);
  private readonly seenAstral = new Set<number>();
  private distinct = 0;
  private chars = 0;
  private bytes = 0;
  private problem: string | null = null;

  constructor(private readonly name: string) {}

  get error(): string | null {
    return this.problem;
  }

  /** Feed the next bytes; returns the problem found so far, if any. */
  push(chunk: Uint8Array): string | null {
    if (this.problem) return this.problem;
    if (chunk.indexOf(0) >= 0) {
      return (this.problem = `${this.name} looks like a binary file (it contains NUL bytes), not text. Choose a plain-text UTF-8 file such as .txt.`);
    }
    this.bytes += chunk.length;
    if (this.bytes > CORPUS_LIMITS.maxBytes) return (this.problem = checkCorpusSize(this.name, this.bytes));
    let piece: string;
    try {
      piece = this.decoder.decode(chunk, { stream: true });
    } catch {
      return (this.problem = this.notUtf8());
    }
    return this.scan(piece);
  }

  private notUtf8(): string {
    return `${this.name} is not valid UTF-8 text (it may be binary, or saved in another encoding). Save it as UTF-8 plain text and try again.`;
  }

  private scan(piece: string): string | null {
    for (let i = 0; i < piece.length; i++) {
      let cp = piece.charCodeAt(i);
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < piece.length) {
        cp = piece.codePointAt(i)!;
        i++;
      }
      this.chars++;
      if (cp < 0x10000) {
        if (this.seenBmp[cp]) continue;
        this.seenBmp[cp] = 1;
      } else {
        if (this.seenAstral.has(cp)) continue;
        this.seenAstral.add(cp);
      }
      this.distinct++;
    }
    if (this.distinct > CORPUS_LIMITS.maxVocab) {
      return (this.problem =
        `${this.name} uses more than ${CORPUS_LIMITS.maxVocab} distinct characters; a character-level model that large would be mostly ` +
        'embedding table. Use a text in one or two scripts.');
    }
    if (piece.length > 0) this.parts.push(piece);
    return null;
  }

  /** The whole text and its statistics, or the reason it cannot be used. */
  finish(minChars: number): CorpusCheck {
    if (!this.problem) {
      try {
        this.scan(this.decoder.decode());
      } catch {
        this.problem = this.notUtf8();
      }
    }
    if (this.problem) return { ok: false, message: this.problem };
    if (this.bytes === 0) return { ok: false, message: checkCorpusSize(this.name, 0)! };
    if (this.chars < minChars) {
      return {
        ok: false,
        message:
          `${this.name} has only ${this.chars} characters; the model needs at least ${minChars} ` +
          '(one context window plus the character it predicts). Use a longer text or a smaller context length.',
      };
    }
    const text = this.parts.join('');
    this.parts.length = 0;
    const vocab: string[] = [];
    for (let cp = 0; cp < 0x10000; cp++) if (this.seenBmp[cp]) vocab.push(String.fromCharCode(cp));
    for (const cp of [...this.seenAstral].sort((a, b) => a - b)) vocab.push(String.fromCodePoint(cp));
    const trainChars = Math.floor(this.chars * TRAIN_FRACTION);
    return {
      ok: true,
      text,
      stats: {
        bytes: this.bytes,
        chars: this.chars,
        vocab,
        trainChars,
        valChars: this.chars - trainChars,
        splitIndex: codePointOffset(text, trainChars),
      },
    };
  }
}

/** UTF-16 index of the n-th code point of text. */
export function codePointOffset(text: string, n: number): number {
  let i = 0;
  for (let k = 0; k < n && i < text.length; k++) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
  }
  return i;
}

const CHUNK = 1 << 20;

/** Checks a whole byte array at once (in chunks, as a file would be read). */
export function checkCorpusBytes(name: string, bytes: Uint8Array, minChars: number): CorpusCheck {
  const early = checkCorpusSize(name, bytes.length);
  if (early) return { ok: false, message: early };
  const scanner = new CorpusScanner(name);
  for (let off = 0; off < bytes.length; off += CHUNK) {
    const problem = scanner.push(bytes.subarray(off, off + CHUNK));
    if (problem) return { ok: false, message: problem };
  }
  return scanner.finish(minChars);
}

/** Pasted text goes through the same checks as a file. */
export function checkCorpusText(name: string, text: string, minChars: number): CorpusCheck {
  return checkCorpusBytes(name, new TextEncoder().encode(text), minChars);
}
