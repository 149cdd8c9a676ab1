// Streaming generation: one token per turn on the GPU queue, so it interleaves
// with training steps and always reads the current weights. Uses the model's
// key/value cache when it has one (rebuilt when the context window slides),
// else a full forward over the last blockSize tokens.
import type { RunTokenizer } from '../model/runTokenizer';
import { SeededRng, sampleToken } from '../model/sampling';
import type { Decoder, EngineModel } from './model';
import type { EngineEvent, SamplingSettings } from './protocol';
import type { Serial } from './serial';

export interface GenerationResult {
  text: string;
  stopped: boolean;
  unknown: string[];
}

export class Generation {
  private settings: SamplingSettings;
  private rng: SeededRng;
  private stopRequested = false;

  constructor(
    private readonly model: EngineModel,
    private readonly tokenizer: RunTokenizer,
    private readonly serial: Serial,
    private readonly emit: (e: EngineEvent) => void,
    settings: SamplingSettings,
  ) {
    this.settings = { ...settings };
    this.rng = new SeededRng(settings.seed);
  }

  /** New settings apply from the next token; a new seed restarts the random sequence. */
  setSettings(s: SamplingSettings): void {
    if (s.seed !== this.settings.seed) this.rng = new SeededRng(s.seed);
    this.settings = { ...s };
  }

  stop(): void {
    this.stopRequested = true;
  }

  get stopping(): boolean {
    return this.stopRequested;
  }

  /** The prompt's ids, or a newline (else the first character) when nothing of it is known. */
  private promptIds(prompt: string): { ids: number[]; unknown: string[] } {
    const { ids, unknown } = this.tokenizer.encode(prompt);
    if (ids.length) return { ids: Array.from(ids), unknown };
    const nl = this.tokenizer.id('\n');
    return { ids: [nl >= 0 ? nl : 0], unknown };
  }

  async run(requestId: number, prompt: string, maxNewTokens: number): Promise<GenerationResult> {
    const T = this.model.config.blockSize;
    const { ids, unknown } = this.promptIds(prompt);
    const context = ids.slice();
    let text = '';
    // A token may end inside a character: its bytes wait for the token that completes it.
    const stream = this.tokenizer.stream();
    let decoder: Decoder | null = null;
    let logits: Float32Array;
    try {
      for (let n = 0; n < maxNewTokens && !this.stopRequested; n++) {
        logits = await this.serial.run(async () => {
          // Once the context is longer than the window, positions shift every token: a full
          // forward over the last T tokens (exactly nanoGPT's generate) replaces the cache.
          if (!this.model.decoder || context.length > T) {
            decoder?.dispose();
            decoder = null;
            return this.model.logits(Int32Array.from(context.slice(-T)));
          }
          if (!decoder) {
            decoder = this.model.decoder();
            let out: Float32Array | null = null;
            for (const id of context) out = await decoder.push(id);
            return out!;
          }
          return decoder.push(context[context.length - 1]);
        });
        if (this.stopRequested) break;
        const t = sampleToken(logits, this.settings, this.rng);
        context.push(t.id);
        const char = stream.push(t.id);
        text += char;
        this.emit({ kind: 'token', requestId, char, id: t.id, prob: t.prob, dist: t.dist });
      }
    } finally {
      (decoder as Decoder | null)?.dispose();
    }
    return { text, stopped: this.stopRequested, unknown };
  }
}
