// nanoGPT's get_batch over a tokenised split: B random windows of T tokens,
// targets shifted by one. The RNG's state is part of a checkpoint, so a
// resumed run draws the same batches it would have drawn.
import { SeededRng } from '../model/sampling';
import type { Batch } from './model';

export class BatchSampler {
  readonly rng: SeededRng;

  constructor(
    private readonly data: Int32Array,
    readonly B: number,
    readonly T: number,
    seed: number,
  ) {
    if (data.length < T + 1) throw new Error(`A split of ${data.length} tokens cannot fill a context of ${T}.`);
    this.rng = new SeededRng(seed);
  }

  get state(): number {
    return this.rng.state;
  }

  set state(s: number) {
    this.rng.state = s >>> 0;
  }

  next(): Batch {
    const { B, T, data } = this;
    const x = new Int32Array(B * T);
    const y = new Int32Array(B * T);
    const starts = data.length - T; // ix in [0, len - T)
    for (let b = 0; b < B; b++) {
      const i = Math.floor(this.rng.next() * starts);
      x.set(data.subarray(i, i + T), b * T);
      y.set(data.subarray(i + 1, i + 1 + T), b * T);
    }
    return { x, y };
  }
}

/** Tokens of nanoGPT's split: the first 90% train, the rest validate. */
export function splitTokens(ids: Int32Array, trainFraction = 0.9): { train: Int32Array; val: Int32Array } {
  const n = Math.floor(ids.length * trainFraction);
  return { train: ids.subarray(0, n), val: ids.subarray(n) };
}
