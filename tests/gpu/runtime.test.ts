import { describe, expect, it } from 'vitest';
import type { DispatchRecord } from '../../src/gpu/runtime';
import { add } from '../../src/kernels/elementwise';
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

  it('binds byte ranges of one buffer and records many dispatches into one compute pass', async () => {
    const { gpu } = await testGpu();
    // Inputs: two 64-float tensors at 256-byte offsets of one buffer; outputs: ranges of others.
    // (WebGPU forbids binding one buffer both read-only and writable within a dispatch, whatever the ranges.)
    const inputs = gpu.upload(Float32Array.from({ length: 128 }, (_, i) => (i < 64 ? i : 1000)));
    const outputs = gpu.upload(new Float32Array(128).fill(Number.NaN));
    const second = gpu.upload(new Float32Array(64).fill(Number.NaN));
    const range = (buffer: GPUBuffer, k: number) => ({ buffer, offset: 256 * k, size: 256 });
    const seen: DispatchRecord[] = [];
    gpu.onDispatch = (r) => seen.push(r);
    const out = await checked(gpu, async () => {
      const encoder = gpu.device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      add(gpu, pass, { out: range(outputs, 0), a: range(inputs, 0), b: range(inputs, 1), n: 64 });
      add(gpu, pass, { out: range(second, 0), a: range(outputs, 0), b: range(inputs, 1), n: 64 }); // reads the first dispatch's output
      pass.end();
      gpu.device.queue.submit([encoder.finish()]);
      return Promise.all([gpu.readF32(outputs, 128), gpu.readF32(second, 64)]);
    });
    gpu.onDispatch = null;
    const [first, then] = out;
    expect(Array.from(first.subarray(0, 64))).toEqual(Array.from({ length: 64 }, (_, i) => i + 1000));
    expect(first.subarray(64).every(Number.isNaN)).toBe(true); // the range beyond was not touched
    expect(Array.from(then)).toEqual(Array.from({ length: 64 }, (_, i) => i + 2000));
    expect(seen.map((r) => r.workgroups)).toEqual([[1, 1, 1], [1, 1, 1]]);
    for (const b of [inputs, outputs, second]) gpu.destroy(b);
  });
});
