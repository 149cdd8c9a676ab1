import { describe, expect, it } from 'vitest';
import { matmul } from '../../src/kernels/matmul';
import { checked, testGpu } from './context';

describe('GPU runtime', () => {
  it('reports a real adapter', async () => {
    const { handle } = await testGpu();
    expect(handle.info.vendor.length + handle.info.architecture.length).toBeGreaterThan(0);
    expect(handle.info.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 << 20);
  });

  it('surfaces GPU validation errors instead of swallowing them', async () => {
    const { gpu } = await testGpu();
    const tooSmall = gpu.buffer(16);
    await expect(
      checked(gpu, () => gpu.submit((e) => e.copyBufferToBuffer(tooSmall, 0, tooSmall, 8, 64))),
    ).rejects.toThrow(/GPU error/);
    gpu.destroy(tooSmall);
  });

  it('compiles a pipeline once and reuses bind groups and uniforms', async () => {
    const { gpu } = await testGpu();
    const a = gpu.upload(new Float32Array([2, 3]));
    const b = gpu.upload(new Float32Array([5, 7]));
    const out = gpu.buffer(4);
    gpu.zeros();
    const before = gpu.liveBuffers().count;
    const results = await checked(gpu, async () => {
      const seen: number[] = [];
      for (let i = 0; i < 3; i++) {
        gpu.submit((enc) => matmul(gpu, enc, { out, a, b, M: 1, N: 1, K: 2, transB: true }));
        seen.push((await gpu.readF32(out, 1))[0]);
      }
      return seen;
    });
    expect(results).toEqual([31, 31, 31]);
    // Same shader and constants: the very same pipeline object; other constants: another one.
    const code = '@group(0) @binding(0) var<uniform> p: vec4<u32>; @group(0) @binding(1) var<storage, read_write> o: array<f32>;\n' +
      'override K: f32 = 1.0; @compute @workgroup_size(1) fn main() { o[0] = f32(p.x) * K; }';
    const first = gpu.pipeline(code, { constants: { K: 2 } });
    expect(gpu.pipeline(code, { constants: { K: 2 } })).toBe(first);
    expect(gpu.pipeline(code, { constants: { K: 3 } })).not.toBe(first);
    expect(gpu.uniform([1, 1, 2])).toBe(gpu.uniform(new Uint32Array([1, 1, 2])));
    expect(gpu.uniform([1, 1, 3])).not.toBe(gpu.uniform([1, 1, 2]));
    const groups = gpu.cachedBindGroups();
    expect(groups).toBeGreaterThan(0);
    expect(gpu.liveBuffers().count).toBe(before);
    for (const x of [a, b, out]) gpu.destroy(x);
    expect(gpu.cachedBindGroups()).toBe(groups - 1);
  });

  it('drops cached bind groups with their buffers, so many short-lived buffers do not pile up', async () => {
    const { gpu } = await testGpu();
    const weights = gpu.upload(new Float32Array([1, 2, 3, 4]));
    const before = gpu.cachedBindGroups();
    await checked(gpu, async () => {
      for (let i = 0; i < 50; i++) {
        const x = gpu.upload(new Float32Array([i, 1]));
        const y = gpu.buffer(8);
        gpu.submit((enc) => matmul(gpu, enc, { out: y, a: x, b: weights, M: 1, N: 2, K: 2 }));
        expect(Array.from(await gpu.readF32(y, 2))).toEqual([i + 3, 2 * i + 4]);
        gpu.destroy(x);
        gpu.destroy(y);
      }
    });
    expect(gpu.cachedBindGroups()).toBe(before);
    gpu.destroy(weights);
  });
});
