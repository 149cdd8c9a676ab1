// Shared result types and small helpers for the benchmark page.

import type { StepProfile } from './profileStep';

export interface KernelRow {
  /** 'matmul', 'layernorm', 'attention', ... */
  group: string;
  kernel: string;
  shape: string;
  unit: 'GFLOP/s' | 'GB/s';
  oursMs: number;
  ours: number;
  peerMs?: number;
  peer?: number;
  /** peer time / our time: above 1 means ours is faster. */
  ratio?: number;
  /** max |ours - peer| / max(1, max |peer|) on the same inputs. */
  maxDiff?: number;
  note?: string;
}

export interface TrainRow {
  engine: string;
  config: string;
  warmup: number;
  steps: number;
  msPerStep: number;
  tokensPerSec: number;
  firstLoss: number;
  lastLoss: number;
  /** our time / this row's time is in the table as "ours is N x faster". */
  note: string;
}

export interface BenchOptions {
  mode: 'quick' | 'full';
  kernels: boolean;
  train: boolean;
  /** Only kernels whose name matches this regular expression ('' = all). */
  only: string;
  /** Corpus for the training benchmark (a slice of Tiny Shakespeare). */
  text: string;
}

export interface BenchResult {
  adapter: string;
  /** GPU time per kernel group of one training step of ours (timestamp queries), when the training part ran. */
  profile?: StepProfile;
  /** The same as a markdown table (or the sentence saying why there is none). */
  profileTable?: string;
  adapterInfo: Record<string, string>;
  userAgent: string;
  mode: string;
  kernels: KernelRow[];
  train: TrainRow[];
  extra: Record<string, unknown>;
  notes: string[];
}

/** Deterministic values in [-1, 1) (xorshift), so every run times the same numbers. */
export function randomData(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

export function maxRelDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 1;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  let d = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i]! - want[i]!);
    if (!(e <= d)) d = Number.isNaN(e) ? Infinity : e;
  }
  return d / scale;
}
