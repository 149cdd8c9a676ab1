// The in-app benchmark: N training steps of the current config, timed by the
// engine on the GPU queue, reported with the adapter that ran them, and the GPU
// time per kernel group of one more step where the adapter has timestamp queries.
import { create } from 'zustand';
import type { KernelGroupTime } from '../../engine/protocol';
import { adapterName } from '../../gpu/device';
import { useGpu } from '../gpuStore';
import { useSetup } from './setup';
import { useTraining } from './training';

export const BENCHMARK_STEPS = 10;

export interface BenchmarkResult {
  steps: number;
  msPerStep: number;
  tokensPerSec: number;
  /** Tokens in one step: batch size × context. */
  tokensPerStep: number;
  adapter: string;
  /** GPU time per kernel group of one profiled step; null where the adapter cannot time kernels. */
  kernels: KernelGroupTime[] | null;
  /** How the kernel times were taken, or why there are none (a sentence). */
  kernelNote: string;
  /** The setup it measured, to mark the figure stale after a change. */
  key: string;
}

interface BenchmarkState {
  running: boolean;
  /** When the running benchmark started (performance.now()). */
  startedAt: number | null;
  /** Expected duration in ms, from the last known step time; null when unknown. */
  expectedMs: number | null;
  result: BenchmarkResult | null;
  error: string | null;
  actions: { run: (steps?: number) => Promise<void> };
}

export const useBenchmark = create<BenchmarkState>((set, get) => ({
  running: false,
  startedAt: null,
  expectedMs: null,
  result: null,
  error: null,
  actions: {
    async run(steps = BENCHMARK_STEPS) {
      const engine = useGpu.getState().engine;
      const training = useTraining.getState();
      if (!engine || get().running) return;
      if (training.state === 'running') {
        set({ error: 'Pause training before running the benchmark.' });
        return;
      }
      set({ running: true, error: null, startedAt: performance.now(), expectedMs: null });
      try {
        if (!(await training.actions.ensureLoaded())) {
          set({ error: useTraining.getState().problems.join(' ') || 'The model could not be loaded.' });
          return;
        }
        const known = get().result?.key === useTraining.getState().loaded?.key ? get().result?.msPerStep : useTraining.getState().msPerStep;
        // One warm-up step runs before the timed ones.
        set({ startedAt: performance.now(), expectedMs: known ? known * (steps + 1) : null });
        const reply = await engine.request({ kind: 'benchmark', steps });
        if (reply.kind !== 'benchmark') {
          set({ error: reply.kind === 'error' ? reply.message : `The benchmark did not run (reply '${reply.kind}').` });
          return;
        }
        const { train } = useSetup.getState();
        const loaded = useTraining.getState().loaded;
        const info = useGpu.getState().info;
        set({
          result: {
            steps: reply.steps,
            msPerStep: reply.msPerStep,
            tokensPerSec: reply.tokensPerSec,
            tokensPerStep: train.batchSize * (loaded?.config.blockSize ?? useSetup.getState().model.blockSize),
            adapter: info ? adapterName(info) : 'this GPU',
            kernels: reply.kernels,
            kernelNote: reply.kernelNote,
            key: loaded?.key ?? '',
          },
        });
      } finally {
        set({ running: false, startedAt: null });
      }
    },
  },
}));
