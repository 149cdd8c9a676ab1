// GPU status for the whole page: the engine worker, the adapter it found, and
// any loss or error, as sentences for people.
import { create } from 'zustand';
import { GPU_HELP, type GpuFailure, type GpuInfo } from '../gpu/device';
import type { KernelVariant } from '../gpu/runtime';
import { EngineClient } from '../engine/client';
import type { CircuitsJob, DebugAction, EngineReply, SelfCheckResult } from '../engine/protocol';

const TEST_HOOKS = typeof location !== 'undefined' && new URLSearchParams(location.search).has('test');

type Phase = 'starting' | 'ready' | 'unavailable';

interface GpuState {
  phase: Phase;
  info: GpuInfo | null;
  /** The kernel shapes the engine records ('gpu' or 'cpu') and whether their reductions use subgroups. */
  kernels: { variant: KernelVariant; subgroups: boolean } | null;
  failure: { reason: GpuFailure; message: string } | null;
  lost: string | null;
  errors: string[];
  selfCheck: SelfCheckResult | null;
  engine: EngineClient | null;
  actions: {
    start: () => Promise<void>;
    dismissError: (index: number) => void;
  };
}

export const useGpu = create<GpuState>((set, get) => ({
  phase: 'starting',
  info: null,
  kernels: null,
  failure: null,
  lost: null,
  errors: [],
  selfCheck: null,
  engine: null,
  actions: {
    async start() {
      if (get().engine) return;
      if (!('gpu' in navigator) || !navigator.gpu) {
        set({ phase: 'unavailable', failure: { reason: 'no-webgpu', message: GPU_HELP['no-webgpu'] } });
        return;
      }
      const engine = new EngineClient();
      set({ engine });
      engine.on((event) => {
        if (event.kind === 'deviceLost') set({ lost: event.message });
        else if (event.kind === 'gpuError') set((s) => ({ errors: [...s.errors.slice(-4), event.message] }));
        // The engine moves to a new device by itself on the next GPU request; the run is back once it reports a state.
        else if (event.kind === 'trainState' && event.state !== 'error' && get().lost) set({ lost: null });
      });
      if (TEST_HOOKS) {
        // Fault injection for end-to-end tests only (?test in the link).
        (window as unknown as { __engineDebug?: (action: DebugAction) => Promise<EngineReply> }).__engineDebug = (action) =>
          engine.request({ kind: 'debug', action });
        // The engine's own circuits numbers, to check what the Insights tab draws against.
        (window as unknown as { __circuits?: (job: CircuitsJob) => Promise<EngineReply> }).__circuits = (job) => engine.request({ kind: 'circuits', job });
      }
      const kernels = new URLSearchParams(location.search).get('kernels');
      const reply = await engine.request({ kind: 'init', ...(kernels === 'gpu' || kernels === 'cpu' ? { kernels } : {}) });
      if (reply.kind === 'gpuUnavailable') {
        set({ phase: 'unavailable', failure: { reason: reply.reason, message: reply.message } });
        return;
      }
      if (reply.kind !== 'ready') {
        set({ phase: 'unavailable', failure: { reason: 'device-failed', message: 'message' in reply ? reply.message : '' } });
        return;
      }
      set({ phase: 'ready', info: reply.info, kernels: { variant: reply.kernels, subgroups: reply.subgroups } });
      const check = await engine.request({ kind: 'selfCheck', M: 67, N: 45, K: 83, seed: Date.now() & 0xffff });
      if (check.kind === 'selfCheck') set({ selfCheck: check.result });
      else if (check.kind === 'error') set((s) => ({ errors: [...s.errors, check.message] }));
    },
    dismissError(index) {
      set((s) => ({ errors: s.errors.filter((_, i) => i !== index) }));
    },
  },
}));
