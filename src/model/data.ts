// Training data, as nanoGPT's prepare.py + get_batch: the encoded corpus split
// 90/10 into train and validation, and a seeded sampler of random windows
// (x = ids[i .. i+T), y = ids[i+1 .. i+T+1)) whose RNG state can be saved in a
// checkpoint and restored, so a resumed run draws the same batches.

import { SeededRng } from './sampling';

export interface TokenBatch {
  /** (B*T) inputs, row b = positions b*T .. b*T+T-1 */
  x: Int32Array;
  /** (B*T) next-token targets */
  y: Int32Array;
}

export interface Splits {
  train: Int32Array;
  val: Int32Array;
}

export const TRAIN_FRACTION = 0.9;

/** The first 90% of the tokens train, the rest validate; both must hold a full window of blockSize + 1. */
export function splitCorpus(ids: Int32Array, blockSize: number, trainFraction = TRAIN_FRACTION): Splits {
  const n = Math.floor(ids.length * trainFraction);
  const train = ids.subarray(0, n);
  const val = ids.subarray(n);
  const need = blockSize + 1;
  if (train.length < need || val.length < need) {
    let minimum = 2 * need;
    while (Math.floor(minimum * trainFraction) < need || minimum - Math.floor(minimum * trainFraction) < need) minimum++;
    throw new Error(
      `The corpus is too short: ${ids.length} characters split into ${train.length} for training and ${val.length} for validation, ` +
        `but each part needs at least ${need} (the context length ${blockSize} plus one). ` +
        `Use a text of at least ${minimum} characters or a shorter context.`,
    );
  }
  return { train, val };
}

/** B random windows of T tokens from one split, drawn by a seeded generator. */
export class BatchSampler {
  private readonly rng: SeededRng;

  constructor(
    private readonly data: Int32Array,
    readonly batchSize: number,
    readonly blockSize: number,
    seed: number,
  ) {
    if (data.length < blockSize + 1) {
      throw new Error(`A split of ${data.length} tokens cannot fill a context of ${blockSize} plus its next-token target.`);
    }
    this.rng = new SeededRng(seed);
  }

  /** The generator's state: restore it to draw the same batches again. */
  get state(): number {
    return this.rng.state;
  }

  set state(s: number) {
    this.rng.state = s >>> 0;
  }

  next(): TokenBatch {
    const { batchSize: B, blockSize: T, data } = this;
    const x = new Int32Array(B * T); // (B, T)
    const y = new Int32Array(B * T); // (B, T)
    const starts = data.length - T; // i in [0, len - T), as torch.randint(len - T)
    for (let b = 0; b < B; b++) {
      const i = Math.floor(this.rng.next() * starts);
      x.set(data.subarray(i, i + T), b * T);
      y.set(data.subarray(i + 1, i + T + 1), b * T);
    }
    return { x, y };
  }
}
