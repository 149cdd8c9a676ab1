import matmulCode from '../../shaders/matmul.wgsl?raw';
import reduceCode from '../../shaders/matmul_reduce.wgsl?raw';
import matvecCode from '../../shaders/matvec.wgsl?raw';
import cpuCode from '../../shaders/matmul_cpu.wgsl?raw';
import thinCpuCode from '../../shaders/matmul_thin_cpu.wgsl?raw';
import { type Gpu, type Binding, type Recorder, grid, packParams } from '../gpu/runtime';
import { activationBackward, activationForward, type Activation } from './activation';
import { biasBackward } from './biasBackward';
import { dropoutBackward, dropoutResidual, dropoutScale, dropoutThreshold, withDropoutHash } from './dropout';
import type { GradReduce } from './gradReduce';

/** The tiled kernel, with the dropout hash its DROP modes use. */
const code = withDropoutHash(matmulCode);

/** A residual branch's dropout in a product (MatmulArgs.dropout). */
export interface MatmulDropout {
  /** 'out': C = residual + dropout(op(A) op(B) (+ bias)); 'a': op(A) masked as it is loaded (the gradient through it) */
  on: 'out' | 'a';
  p: number;
  salt: number;
  /** u32[1], the step's seed */
  seed: Binding;
  /** where the dropout runs as a pass of its own when the kernel cannot apply it: C's size ('out') or A's ('a') */
  scratch: Binding;
}

/** The shape of one product: C (M, N) = op(A) (M, K) op(B) (K, N). */
export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  /** A stored (K, M) */
  transA?: boolean;
  /** B stored (N, K) */
  transB?: boolean;
}

export interface MatmulArgs extends MatmulShape {
  /** C (M, N) */
  out: Binding;
  /** A (M, K), or (K, M) with transA */
  a: Binding;
  /** B (K, N), or (N, K) with transB */
  b: Binding;
  /** optional (N) added to every row */
  bias?: Binding | null;
  /** optional (M, N) added to the product: C = residual + op(A) op(B) (+ bias); a buffer other than `out` */
  residual?: Binding | null;
  /** C += op(A) op(B) instead of C = ... (gradient accumulation) */
  accumulate?: boolean;
  /**
   * Scratch for split-K partial products, at least matmulScratchFloats(shape) floats, in a buffer other
   * than out, a, b. Without it the product runs in one pass (no split), whatever its shape.
   */
  scratch?: Binding | null;
  /**
   * A weight gradient (accumulate) whose split-K partial products are left for a backward's GradReduce
   * (./gradReduce.ts) instead of reduced right away: the product then splits as with scratch, its
   * partials (and bias row sums) go to a region of the GradReduce, and C (and dbias) receive them when it
   * records. A product that does not split accumulates into C at once.
   */
  deferred?: GradReduce | null;
  /**
   * A residual branch's dropout (the mask of ./dropout.ts, same seed and salt): 'out' drops the product
   * (+ bias) before the residual add (the forward; needs residual, no accumulate or activation); 'a'
   * takes op(A) as the gradient before that dropout and masks it on the way in (the dropped Linear's dX
   * and dW, which then read d(out) itself). The tiled kernel applies it (DROP); otherwise (the CPU
   * variant, M = 1, or a bias sum the product cannot take) a dropout pass of its own runs through
   * `scratch`.
   */
  dropout?: MatmulDropout | null;
  /** Force the number of K slices (tests, benchmarks); by default matmulPlan chooses. */
  slices?: number;
  /** Force the tile shape (tests, benchmarks); by default matmulPlan chooses. */
  tile?: MatmulTile;
  /** The Linear this product belongs to, e.g. 'attn.c_attn' (profiles group by it and by fwd / dX / dW). */
  site?: string;
  /**
   * Also dbias (M) += the row sums of op(A), with transA: a weight gradient's bias, dbias += the column
   * sums of dY. When the product splits, its kernel sums the A tiles it stages and the split-K reduction
   * finishes them (no dispatch of their own; scratch must hold matmulScratchFloats(shape, .., true));
   * otherwise biasBackward runs apart with `columnSums` (biasBackwardScratchFloats(K, M) floats).
   */
  biasSum?: { dbias: Binding; columnSums: Binding } | null;
  /**
   * A Linear and its activation: C = f(op(A) op(B) (+ bias)). The tiled kernel applies ReLU in its
   * epilogue and leaves `pre` untouched; otherwise (GELU, M = 1, the CPU variant) the product goes to
   * `pre` (M, N) and f runs in a dispatch of its own. Read the saved tensor of the backward with
   * activationSaved. Not with residual, accumulate or split-K.
   */
  activation?: { kind: Activation; pre: Binding } | null;
  /**
   * The next Linear's dX through the activation: C = f'(saved) * op(A) op(B), saved (M, N) what
   * activationSaved names. The tiled kernel applies f' in its epilogue; otherwise the product goes to
   * `product` (M, N) and f' runs in a dispatch of its own. Not with bias, residual, accumulate or split-K.
   */
  activationGrad?: { kind: Activation; saved: Binding; product: Binding } | null;
}

/** What the backward of f reads: ReLU's output (> 0 exactly where its input is), GELU's input. */
export function activationSaved(kind: Activation, pre: Binding, post: Binding): Binding {
  return kind === 'relu' ? post : pre;
}

const ACT_GRAD_KIND: Record<Activation, number> = { relu: 1, gelu: 2 };

/** The direction of a Linear's product, from its transposes: x W^T is the forward, dY^T X the weight gradient. */
export function matmulDirection(args: Pick<MatmulArgs, 'transA' | 'transB'>): 'fwd' | 'dX' | 'dW' {
  if (args.transA) return 'dW';
  return args.transB ? 'fwd' : 'dX';
}

/**
 * Bytes a product must move at least: A, B (and bias, residual) read once, C written once (and read when
 * accumulating).
 */
export function matmulBytes(args: Pick<MatmulArgs, 'M' | 'N' | 'K' | 'bias' | 'residual' | 'accumulate'>): number {
  const { M, N, K } = args;
  return 4 * (M * K + K * N + M * N * (1 + (args.accumulate ? 1 : 0) + (args.residual ? 1 : 0)) + (args.bias ? N : 0));
}

/** A tile shape of shaders/matmul.wgsl: BM = (256 / wgN) * rows, BN = wgN * 4. */
export interface MatmulTile {
  wgN: number;
  rows: number;
}

export const TILE_128x64: MatmulTile = { wgN: 16, rows: 8 };
export const TILE_64x64: MatmulTile = { wgN: 16, rows: 4 };
export const TILE_128x32: MatmulTile = { wgN: 8, rows: 4 };
const TILES = [TILE_128x64, TILE_64x64, TILE_128x32];

const tileRows = (t: MatmulTile) => (256 / t.wgN) * t.rows;
const tileCols = (t: MatmulTile) => t.wgN * 4;
const tilesOf = (t: MatmulTile, M: number, N: number) => Math.ceil(M / tileRows(t)) * Math.ceil(N / tileCols(t));
const paddedArea = (t: MatmulTile, M: number, N: number) => tilesOf(t, M, N) * tileRows(t) * tileCols(t);

/**
 * Workgroups a product should have at least to fill a GPU: twice the compute
 * units of a 46-SM discrete card (an RTX 4070).
 */
export const TARGET_WORKGROUPS = 92;
/**
 * Resident workgroups of the GPU classes the kernels are shaped for, two per
 * compute unit: a 96-EU integrated laptop GPU, a 10-core Apple M2, a 46-SM
 * RTX 4070. A dispatch runs in waves of this many workgroups; a partial last
 * wave leaves units idle.
 */
export const WAVES = [192, 20, 92];
/**
 * Shortest K slice worth a workgroup of its own under split-K: two 16-deep K
 * steps, so that small models (a few hundred rows) fill a GPU too.
 */
export const MIN_SLICE_K = 32;
/** Most K slices a product is split into. */
export const MAX_SLICES = 64;
const BK = 16;

/** Workgroup slots held per workgroup that works, averaged over WAVES (1 when every wave is full). */
const waveCost = (w: number) => WAVES.reduce((s, wave) => s + (wave * Math.ceil(w / wave)) / w, 0) / WAVES.length;

export interface MatmulPlan {
  kind: 'tiled' | 'matvec';
  tile: MatmulTile;
  /** K slices (1: no split) and the K length of each but the last (a multiple of 16). */
  slices: number;
  kSlice: number;
  /** Workgroups of the product dispatch. */
  workgroups: number;
}

/**
 * How a product runs. M = 1 takes the matrix-vector kernel. Otherwise the
 * tile and K slice count with the least estimated cost: padded tile area /
 * useful area, times waveCost of the workgroup count, times (under split-K) 1 +
 * the partial products' traffic (written and read: 2 * slices * M * N) over the
 * operands' (M * K + K * N). Slices are considered up to that traffic being
 * half the operands', each slice MIN_SLICE_K long and MAX_SLICES, so only thin products
 * with a long K (weight gradients, K = B * T) split. `slices` and `force` fix
 * the slice count and tile (and take the tiled kernel for M = 1).
 */
export function matmulPlan(shape: MatmulShape, slices?: number, force?: MatmulTile): MatmulPlan {
  const { M, N, K } = shape;
  if (M === 1 && slices === undefined && !force) return { kind: 'matvec', tile: TILE_64x64, slices: 1, kSlice: K, workgroups: Math.ceil(N / matvecCols(shape)) };
  const first = slices ?? 1;
  const last = slices ?? Math.max(1, Math.min(MAX_SLICES, Math.floor(K / MIN_SLICE_K), Math.floor((M * K + K * N) / (2 * M * N))));
  let best: (MatmulPlan & { cost: number }) | null = null;
  for (const tile of force ? [force] : TILES) {
    for (let s = first; s <= last; s++) {
      const kSlice = Math.ceil(Math.ceil(K / s) / BK) * BK;
      const n = Math.ceil(K / kSlice);
      if (slices === undefined && n !== s) continue; // the same split as a smaller s
      const workgroups = tilesOf(tile, M, N) * n;
      const traffic = n > 1 ? (2 * n * M * N) / (M * K + K * N) : 0;
      const cost = (paddedArea(tile, M, N) / (M * N)) * waveCost(workgroups) * (1 + traffic);
      if (!best || cost < best.cost * (1 - 1e-9)) best = { kind: 'tiled', tile, slices: n, kSlice: n > 1 ? kSlice : K, workgroups, cost };
    }
  }
  const { tile, slices: n, kSlice, workgroups } = best!;
  return { kind: 'tiled', tile, slices: n, kSlice, workgroups };
}

/** Floats of scratch a product needs for split-K (0 when its plan does not split); `biasSum`: room for the slices' bias sums too. */
export function matmulScratchFloats(shape: MatmulShape, slices?: number, tile?: MatmulTile, biasSum = false): number {
  const plan = matmulPlan(shape, slices, tile);
  return plan.slices > 1 ? plan.slices * (shape.M * shape.N + (biasSum ? biasSumStride(shape.M) : 0)) : 0;
}

/** Floats between two slices' bias sums in the scratch: M rounded up to 4 (vec4 stores). */
const biasSumStride = (M: number) => Math.ceil(M / 4) * 4;

const matvecCols = (shape: MatmulShape) => (shape.transB ? 4 : 64);

const bindingBytes = (b: Binding) => b.size;

/** A 256-byte buffer bound read_write where a kernel's unused output view needs a binding. */
const dummies = new WeakMap<Gpu, GPUBuffer>();
function dummy(gpu: Gpu): GPUBuffer {
  let buffer = dummies.get(gpu);
  if (!buffer) dummies.set(gpu, (buffer = gpu.buffer(256, 'matmul unused view')));
  return buffer;
}

/**
 * Record C (+)= op(A) op(B) (+ bias) (+ residual) into the recorder: one
 * dispatch, or two under split-K (partial products into `scratch`, then their
 * ordered sum into C). See matmulPlan for how the kernel and tile are chosen.
 * On CPU adapters (gpu.kernels === 'cpu') every product is one dispatch of
 * shaders/matmul_cpu.wgsl unless a test forces slices or a tile.
 */
export function matmul(gpu: Gpu, recorder: Recorder, args: MatmulArgs): void {
  const drop = args.dropout && args.dropout.p > 0 ? args.dropout : null;
  if (drop && !dropoutInKernel(gpu, args, drop)) {
    const { p, salt, seed, scratch } = drop;
    if (drop.on === 'a') {
      dropoutBackward(gpu, recorder, { dinp: scratch, dout: args.a, n: args.M * args.K, p, salt, seed });
      matmul(gpu, recorder, { ...args, a: scratch, dropout: null });
    } else {
      matmul(gpu, recorder, { ...args, out: scratch, residual: null, dropout: null });
      dropoutResidual(gpu, recorder, { out: args.out, resid: args.residual!, inp: scratch, n: args.M * args.N, p, salt, seed });
    }
    return;
  }
  const act = args.activation ?? null;
  const grad = args.activationGrad ?? null;
  if (act || grad) {
    if (args.residual || args.accumulate || args.biasSum || (grad && args.bias)) {
      throw new Error('A matmul with an activation epilogue takes no residual, accumulation or bias gradient (and its gradient no bias).');
    }
    const n = args.M * args.N;
    if (!activationFused(gpu, args)) {
      if (act) {
        product(gpu, recorder, { ...args, activation: null, out: act.pre });
        activationForward(gpu, recorder, { out: args.out, inp: act.pre, n, kind: act.kind });
      } else {
        product(gpu, recorder, { ...args, activationGrad: null, out: grad!.product });
        activationBackward(gpu, recorder, { dinp: args.out, inp: grad!.saved, dout: grad!.product, n, kind: grad!.kind });
      }
      return;
    }
  }
  if (args.biasSum && !args.transA) throw new Error('A bias sum needs a weight-gradient product (transA).');
  const fused = product(gpu, recorder, args);
  if (args.biasSum && !fused) biasBackward(gpu, recorder, { dbias: args.biasSum.dbias, scratch: args.biasSum.columnSums, dout: args.a, M: args.K, N: args.M });
}

/** Whether the tiled kernel applies args' dropout (else it runs apart through its scratch). */
function dropoutInKernel(gpu: Gpu, args: MatmulArgs, drop: MatmulDropout): boolean {
  if (drop.on === 'out' && (!args.residual || args.accumulate || args.activation || args.activationGrad)) {
    throw new Error("A product's output dropout is a residual branch's: it needs a residual, and takes no accumulation or activation.");
  }
  if (args.slices === undefined && !args.tile && (gpu.kernels === 'cpu' || args.M === 1)) return false;
  const slices = matmulPlan(args, args.slices ?? (args.scratch || args.deferred ? undefined : 1), args.tile).slices;
  // the output's dropout needs the one-pass epilogue; a bias sum of masked rows needs the split kernel's sums
  return drop.on === 'out' ? slices === 1 : !args.biasSum || slices > 1;
}

/** Whether the product runs as one tiled dispatch that applies args' activation (or its gradient) in its epilogue. */
function activationFused(gpu: Gpu, args: MatmulArgs): boolean {
  if (args.activation && args.activation.kind !== 'relu') return false;
  if (args.slices === undefined && !args.tile && (gpu.kernels === 'cpu' || args.M === 1)) return false;
  return matmulPlan(args, args.slices ?? (args.scratch ? undefined : 1), args.tile).slices === 1;
}

/** Record the product; true when it (split) also finished args.biasSum. */
function product(gpu: Gpu, recorder: Recorder, args: MatmulArgs): boolean {
  const { M, N, K } = args;
  if (gpu.kernels === 'cpu' && args.slices === undefined && !args.tile) {
    matmulCpu(gpu, recorder, args);
    return false;
  }
  if (M === 1 && args.slices === undefined && !args.tile) {
    matvec(gpu, recorder, args);
    return false;
  }
  // Without scratch (or a GradReduce), one pass.
  const deferred = args.deferred ?? null;
  if (deferred && !(args.accumulate && !args.bias && !args.residual)) throw new Error('A deferred product is a weight gradient: accumulated, without bias or residual.');
  const plan = matmulPlan(args, args.slices ?? (args.scratch || deferred ? undefined : 1), args.tile);
  const split = plan.slices > 1;
  if (split && !args.scratch && !deferred) throw new Error(`A ${M}x${N}x${K} matmul split into ${plan.slices} slices needs a scratch buffer.`);
  const slices = split ? plan.slices : 1;
  const bias = split && args.biasSum ? args.biasSum : null;
  const need = slices * (M * N + (bias ? biasSumStride(M) : 0));
  const region = split && deferred ? deferred.take(need) : null;
  if (split && !region && bindingBytes(args.scratch!) < need * 4) {
    throw new Error(`The matmul scratch buffer holds ${bindingBytes(args.scratch!) / 4} floats; a ${M}x${N}x${K} product in ${slices} slices${bias ? ' with its bias sums' : ''} needs ${need}.`);
  }
  const { tile } = plan;
  const drop = args.dropout && args.dropout.p > 0 ? args.dropout : null;
  const vecA = (args.transA ? M : K) % 4 === 0;
  const vecB = (args.transB ? K : N) % 4 === 0;
  const vecC = N % 4 === 0;
  const target = region ? region.binding : split ? args.scratch! : args.out;
  const pipeline = gpu.pipeline(code, {
    constants: {
      TRANS_A: args.transA ? 1 : 0,
      TRANS_B: args.transB ? 1 : 0,
      HAS_BIAS: !split && args.bias ? 1 : 0,
      HAS_RESIDUAL: !split && args.residual ? 1 : 0,
      ACCUMULATE: !split && args.accumulate ? 1 : 0,
      SPLIT: split ? 1 : 0,
      BIAS_SUM: bias ? 1 : 0,
      ACT: args.activation ? 1 : 0,
      ACT_GRAD: args.activationGrad ? ACT_GRAD_KIND[args.activationGrad.kind] : 0,
      DROP: drop ? (drop.on === 'out' ? 1 : 2) : 0,
      VEC4_A: vecA ? 1 : 0,
      VEC4_B: vecB ? 1 : 0,
      VEC4_C: vecC ? 1 : 0,
      WG_N: tile.wgN,
      ROWS: tile.rows,
    },
  });
  const zeros = gpu.zeros();
  const label = args.site ? { label: `${args.site} ${matmulDirection(args)}` } : {};
  gpu.dispatch(recorder, pipeline, {
    params: packParams([M, N, K, split ? plan.kSlice : K, drop ? dropoutThreshold(drop.p) : 0, drop?.salt ?? 0, { f32: drop ? dropoutScale(drop.p) : 1 }]),
    buffers: [
      vecC ? dummy(gpu) : target,
      vecC ? target : dummy(gpu),
      vecA ? zeros : args.a,
      vecA ? args.a : zeros,
      vecB ? zeros : args.b,
      vecB ? args.b : zeros,
      (!split && args.bias) || zeros,
      (!split && (args.residual || args.activationGrad?.saved)) || zeros,
      drop?.seed ?? zeros,
    ],
    workgroups: [Math.ceil(N / tileCols(tile)), Math.ceil(M / tileRows(tile)), slices],
    kernel: split ? 'matmul_splitk' : 'matmul',
    workgroupSize: 256,
    flops: matmulFlops(M, N, K),
    // split: A and B read once, each slice's partial (M, N) (and bias sums (M)) written once;
    // one pass: the saved tensor of an activation gradient is read like a residual
    bytes: split ? 4 * (M * K + K * N + slices * M * N + (bias ? slices * M : 0)) : matmulBytes({ ...args, residual: args.residual ?? args.activationGrad?.saved }),
    ...label,
  });
  if (!split) return false;
  if (region) {
    // the partials (S, M, N), then the bias row sums S rows of M at biasSumStride(M)
    deferred!.add({ src: region.at, stride: M * N, count: slices, len: M * N, dst: args.out });
    if (bias) deferred!.add({ src: region.at + slices * M * N, stride: biasSumStride(M), count: slices, len: M, dst: bias.dbias });
    return bias !== null;
  }
  const reduce = gpu.pipeline(reduceCode, {
    constants: {
      HAS_BIAS: args.bias ? 1 : 0,
      HAS_RESIDUAL: args.residual ? 1 : 0,
      ACCUMULATE: args.accumulate ? 1 : 0,
      BIAS_GRAD: bias ? 1 : 0,
    },
  });
  const mainWG = Math.ceil((M * N) / 256);
  gpu.dispatch(recorder, reduce, {
    params: [M * N, N, slices, mainWG, bias ? M : 0, slices * M * N, biasSumStride(M)],
    buffers: [args.out, args.scratch!, args.bias || zeros, args.residual || zeros, bias?.dbias ?? dummy(gpu)],
    workgroups: grid(mainWG + (bias ? Math.ceil(M / 256) : 0)),
    kernel: 'matmul_splitk_reduce',
    workgroupSize: 256,
    flops: M * N * slices + (bias ? slices * M : 0),
    // the partials read once, then what a one-pass product reads and writes besides A and B (+ the bias sums read, dbias read and written)
    bytes: 4 * slices * M * N + matmulBytes(args) - 4 * (M * K + K * N) + (bias ? 4 * (slices * M + 2 * M) : 0),
    ...label,
  });
  return bias !== null;
}

/** The widest side of a product that the CPU variant computes without tiles (LoRA's rank-r products). */
export const THIN_CPU_SIDE = 16;

/** Whether the CPU variant takes the tile-free kernel for this product (a side of at most THIN_CPU_SIDE). */
export const thinOnCpu = (shape: MatmulShape) => Math.min(shape.M, shape.N, shape.K) <= THIN_CPU_SIDE;

/**
 * The CPU-adapter variant: every product, M = 1 included, in one dispatch of
 * 64-invocation workgroups (shaders/matmul_cpu.wgsl's 64 x 64 tiles, or for a
 * thin product shaders/matmul_thin_cpu.wgsl's dot products); scratch is not used.
 */
function matmulCpu(gpu: Gpu, recorder: Recorder, args: MatmulArgs): void {
  const { M, N, K } = args;
  const thin = thinOnCpu(args);
  // Only the transposes are compiled in (they shape the hot loop); the epilogue is a uniform, so
  // a model needs three pipelines here rather than one per epilogue (each costs seconds on a CPU adapter).
  const pipeline = gpu.pipeline(thin ? thinCpuCode : cpuCode, {
    constants: { TRANS_A: args.transA ? 1 : 0, TRANS_B: args.transB ? 1 : 0 },
  });
  const epilogue = (args.bias ? 1 : 0) | (args.residual ? 2 : 0) | (args.accumulate ? 4 : 0);
  const zeros = gpu.zeros();
  gpu.dispatch(recorder, pipeline, {
    params: [M, N, K, epilogue],
    buffers: [args.out, args.a, args.b, args.bias || zeros, args.residual || zeros],
    workgroups: thin ? grid(Math.ceil((M * Math.ceil(N / 4)) / 64)) : [Math.ceil(N / 64), Math.ceil(M / 64)],
    kernel: thin ? 'matmul_thin_cpu' : 'matmul_cpu',
    workgroupSize: 64,
    flops: matmulFlops(M, N, K),
    bytes: matmulBytes(args),
    ...(args.site ? { label: `${args.site} ${matmulDirection(args)}` } : {}),
  });
}

/** y (N) (+)= x (K) op(B) (+ bias) (+ residual): the M = 1 product. */
function matvec(gpu: Gpu, recorder: Recorder, args: MatmulArgs): void {
  const { N, K } = args;
  const cols = matvecCols(args);
  const pipeline = gpu.pipeline(matvecCode, {
    constants: {
      TRANS_B: args.transB ? 1 : 0,
      HAS_BIAS: args.bias ? 1 : 0,
      HAS_RESIDUAL: args.residual ? 1 : 0,
      ACCUMULATE: args.accumulate ? 1 : 0,
      COLS: cols,
    },
  });
  const zeros = gpu.zeros();
  gpu.dispatch(recorder, pipeline, {
    params: [N, K],
    buffers: [args.out, args.a, args.b, args.bias || zeros, args.residual || zeros],
    workgroups: grid(Math.ceil(N / cols)),
    kernel: 'matmul_vector',
    workgroupSize: 256,
    flops: matmulFlops(1, N, K),
    bytes: matmulBytes(args),
    ...(args.site ? { label: `${args.site} ${matmulDirection(args)}` } : {}),
  });
}

/** FLOPs of one matmul, for benchmarks. */
export const matmulFlops = (M: number, N: number, K: number) => 2 * M * N * K;
