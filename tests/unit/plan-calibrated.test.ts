// The calibrated range of the step plan: each dispatch's class, and the
// optimistic and pessimistic times recomputed by hand from the parameters.
import { describe, expect, it } from 'vitest';
import { calibratedRange, calibrations, kernelClass } from '../../bench/plan/calibrated';
import { PROFILES, occupancy } from '../../bench/plan/model';

const d = (kernel: string, w: number, flops: number, bytes: number) => ({ kernel, workgroups: [w, 1, 1] as [number, number, number], workgroupSize: 256, flops, bytes });

describe('calibrated cost model', () => {
  it('classes dispatches by kernel: split-K reductions and norms are reductions', () => {
    expect(kernelClass({ kernel: 'matmul' })).toBe('matmul');
    expect(kernelClass({ kernel: 'matmul_splitk' })).toBe('matmul');
    expect(kernelClass({ kernel: 'matmul_splitk_reduce' })).toBe('reduction');
    expect(kernelClass({ kernel: 'attention_backward_dq' })).toBe('attention');
    expect(kernelClass({ kernel: 'grad_reduce' })).toBe('reduction');
    expect(kernelClass({ kernel: 'bias_backward' })).toBe('reduction');
    expect(kernelClass({ kernel: 'dropout' })).toBe('elementwise');
    expect(kernelClass({ kernel: 'adamw' })).toBe('elementwise');
  });

  it('prices each bound from its parameters, the pessimistic above the optimistic, the roofline below both', () => {
    const ds = [d('matmul', 500, 3e9, 2e7), d('attention_forward', 37, 2e8, 1e7), d('add', 3072, 1e6, 1.2e7), d('layernorm_forward', 512, 6e6, 6e6)];
    const commands = { passes: 2, copies: 1, clears: 1, copyBytes: 260, clearBytes: 1e6 };
    for (const p of PROFILES) {
      const cs = calibrations(p);
      const r = calibratedRange(ds, commands, p);
      for (const [c, got] of [[cs.optimistic, r.optimisticMs], [cs.pessimistic, r.pessimisticMs]] as const) {
        let s = 0;
        for (const x of ds) {
          const k = kernelClass(x);
          s += Math.max(x.flops / (p.peakFlops * c.flopEff[k]), x.bytes / (p.bandwidth * c.byteEff[k])) / occupancy(x, p) + c.dispatchUs * 1e-6;
        }
        s += 2 * c.passUs * 1e-6 + 2 * c.copyUs * 1e-6 + (2 * 260 + 1e6) / p.bandwidth;
        expect(got).toBeCloseTo(s * 1e3, 10);
      }
      const roofline = ds.reduce((a, x) => a + Math.max(x.flops / p.peakFlops, x.bytes / p.bandwidth), 0) * 1e3;
      expect(r.optimisticMs).toBeGreaterThan(roofline);
      expect(r.pessimisticMs).toBeGreaterThan(r.optimisticMs);
      expect(r.fixedMs[0]).toBeCloseTo((4 * cs.optimistic.dispatchUs + 2 * cs.optimistic.passUs + 2 * cs.optimistic.copyUs) * 1e-3, 12);
    }
  });

  it('takes the Metal fixed costs for the Apple profile and the Vulkan ones elsewhere (arXiv:2604.02344)', () => {
    const by = Object.fromEntries(PROFILES.map((p) => [p.id, calibrations(p)]));
    expect([by['apple-m2']!.optimistic.dispatchUs, by['apple-m2']!.pessimistic.dispatchUs]).toEqual([32, 71]);
    expect([by['rtx-4070']!.optimistic.dispatchUs, by['rtx-4070']!.pessimistic.dispatchUs]).toEqual([24, 36]);
  });
});
