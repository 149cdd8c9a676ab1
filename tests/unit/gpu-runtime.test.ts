import { describe, expect, it } from 'vitest';
import { adapterName, clampLimits, kernelVariantFor, WANTED_LIMITS } from '../../src/gpu/device';
import { packParams } from '../../src/gpu/runtime';
import { matmulRef } from '../reference/matmul';

describe('device limits', () => {
  it('never asks for more than the adapter offers, nor for limits it does not know', () => {
    const supported = { maxStorageBufferBindingSize: 134217728, maxBufferSize: 2 ** 31, maxComputeWorkgroupStorageSize: 16384 };
    const got = clampLimits(WANTED_LIMITS, supported);
    expect(got).toEqual({
      maxStorageBufferBindingSize: 134217728,
      maxBufferSize: WANTED_LIMITS.maxBufferSize,
      maxComputeWorkgroupStorageSize: 16384,
    });
  });

  it('names an adapter from whatever fields it has', () => {
    const base = { device: '', software: false, limits: {} };
    expect(adapterName({ ...base, vendor: 'nvidia', architecture: 'hopper', description: '' })).toBe('nvidia / hopper');
    expect(adapterName({ ...base, vendor: '', architecture: '', description: '' })).toBe('unknown adapter');
  });

  it('picks CPU-shaped kernels for software adapters, GPU-shaped ones otherwise, and obeys kernels=gpu|cpu', () => {
    expect(kernelVariantFor({ software: true })).toBe('cpu');
    expect(kernelVariantFor({ software: false })).toBe('gpu');
    expect(kernelVariantFor({ software: true }, 'gpu')).toBe('gpu');
    expect(kernelVariantFor({ software: false }, 'cpu')).toBe('cpu');
    expect(kernelVariantFor({ software: false }, 'fast')).toBe('gpu'); // anything else: the adapter decides
    expect(kernelVariantFor({ software: true }, null)).toBe('cpu');
  });
});

describe('uniform packing', () => {
  it('packs u32, f32 and i32 fields into 16-byte-aligned words', () => {
    const buf = packParams([7, { f32: 0.5 }, { i32: -3 }, 4294967295, 9]);
    expect(buf.byteLength).toBe(32);
    expect(new Uint32Array(buf)[0]).toBe(7);
    expect(new Float32Array(buf)[1]).toBe(0.5);
    expect(new Int32Array(buf)[2]).toBe(-3);
    expect(new Uint32Array(buf)[3]).toBe(4294967295);
    expect(new Uint32Array(buf)[4]).toBe(9);
  });
});

describe('matmul reference', () => {
  it('matches a hand-computed product in every layout', () => {
    // A = [[1, 2, 3], [4, 5, 6]] (2x3), B = [[1, 0], [0, 1], [1, 1]] (3x2)
    const A = [1, 2, 3, 4, 5, 6];
    const B = [1, 0, 0, 1, 1, 1];
    const want = [4, 5, 10, 11];
    expect(Array.from(matmulRef(A, B, 2, 2, 3))).toEqual(want);
    const At = [1, 4, 2, 5, 3, 6];
    const Bt = [1, 0, 1, 0, 1, 1];
    expect(Array.from(matmulRef(At, Bt, 2, 2, 3, { transA: true, transB: true }))).toEqual(want);
    expect(Array.from(matmulRef(A, B, 2, 2, 3, { bias: [1, -1], accumulateInto: [1, 1, 1, 1] }))).toEqual([6, 5, 12, 11]);
  });
});
