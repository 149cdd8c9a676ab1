import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nonFiniteTensors, readSafetensors, writeSafetensors } from '../../src/model/safetensors';

const ORACLE = resolve(__dirname, '../../../shared/data/oracle');
const load = (name: string) => readSafetensors(new Uint8Array(readFileSync(resolve(ORACLE, name))));

/** A file from a hand-written header and data, to craft broken ones. */
function craft(header: unknown, dataBytes: number, headerLenOverride?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, headerLenOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

describe('safetensors: the PyTorch fixtures', () => {
  it('reads an init file: nanoGPT names, F32 shapes, config and vocab metadata', () => {
    const f = load('relu-untied.init.safetensors');
    const wte = f.tensors.get('transformer.wte.weight')!;
    expect(wte.dtype).toBe('F32');
    expect(wte.shape).toEqual([58, 32]);
    expect(wte.data).toBeInstanceOf(Float32Array);
    expect(f.tensors.get('transformer.h.1.mlp.c_proj.weight')!.shape).toEqual([32, 128]);
    expect(f.tensors.size).toBe(29);
    expect(JSON.parse(f.metadata.config).n_layer).toBe(2);
    expect(JSON.parse(f.metadata.vocab)).toHaveLength(58);
    expect(nonFiniteTensors(f)).toEqual([]);
    // Weights are normal(0, 0.02): a loose sanity check of the decoded values.
    let sq = 0;
    for (const v of wte.data) sq += v * v;
    expect(Math.sqrt(sq / wte.data.length)).toBeGreaterThan(0.015);
    expect(Math.sqrt(sq / wte.data.length)).toBeLessThan(0.025);
  });

  it('reads an expected file: I32 batches, F64 tensors', () => {
    const f = load('gelu-tied.expected.safetensors');
    const x = f.tensors.get('x')!;
    const y = f.tensors.get('y')!;
    expect(x.dtype).toBe('I32');
    expect(x.shape).toEqual([5, 3, 24]);
    // y is x shifted by one within each row.
    for (let r = 0; r < 15; r++) for (let t = 0; t < 23; t++) expect(y.data[r * 24 + t]).toBe(x.data[r * 24 + t + 1]);
    expect(f.tensors.get('losses')!.dtype).toBe('F64');
    expect(f.tensors.get('logits0')!.shape).toEqual([3, 24, 58]);
    expect(f.metadata.steps).toBe('5');
  });

  it('round-trips a fixture byte for byte in content', () => {
    const f = load('gelu-tied.init.safetensors');
    const again = readSafetensors(writeSafetensors(f.tensors, f.metadata));
    expect([...again.tensors.keys()]).toEqual([...f.tensors.keys()]);
    for (const [name, t] of f.tensors) {
      expect(again.tensors.get(name)!.shape).toEqual(t.shape);
      expect(again.tensors.get(name)!.data).toEqual(t.data);
    }
    expect(again.metadata).toEqual(f.metadata);
  });
});

describe('safetensors: writing', () => {
  it('writes F32, F64 and I32 with metadata and an 8-byte aligned data section', () => {
    const bytes = writeSafetensors(
      [
        ['a', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, -6.5]) }],
        ['b', { shape: [2], data: Float64Array.from([Math.PI, -1e300]) }],
        ['c', { shape: [], data: Int32Array.from([-7]) }],
      ],
      { note: 'hi' },
    );
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLen) % 8).toBe(0);
    const f = readSafetensors(bytes);
    expect(Array.from(f.tensors.get('a')!.data)).toEqual([1, 2, 3, 4, 5, -6.5]);
    expect(Array.from(f.tensors.get('b')!.data)).toEqual([Math.PI, -1e300]);
    expect(f.tensors.get('c')!.shape).toEqual([]);
    expect(Array.from(f.tensors.get('c')!.data)).toEqual([-7]);
    expect(f.metadata).toEqual({ note: 'hi' });
  });

  it('refuses a shape that does not match the data', () => {
    expect(() => writeSafetensors([['a', { shape: [2, 2], data: new Float32Array(3) }]])).toThrow(/shape \[2, 2\] but 3 values/);
  });
});

describe('safetensors: defensive reading', () => {
  it('rejects a file that is not safetensors', () => {
    expect(() => readSafetensors(new TextEncoder().encode('hello'))).toThrow(/only 5 bytes/);
    // A PNG signature read as a header length is astronomically large.
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
    expect(() => readSafetensors(png)).toThrow(/header claims \d+ bytes but the file has only 4/);
    expect(() => readSafetensors(craft('not json at all', 0))).toThrow(/not valid JSON/);
    expect(() => readSafetensors(craft('[1, 2]', 0))).toThrow(/not a JSON object/);
  });

  it('rejects a header longer than the file before decoding it', () => {
    const f = craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 4);
    const cut = f.subarray(0, 20);
    expect(() => readSafetensors(cut)).toThrow(/header claims \d+ bytes but the file has only 12/);
  });

  it('rejects a header claiming gigabytes, and one over the 16 MiB limit', () => {
    const f = craft('{}', 0, 3n * 1024n ** 3n);
    expect(() => readSafetensors(f)).toThrow(/header claims 3221225472 bytes/);
    const big = new Uint8Array(8 + 17 * 1024 * 1024);
    new DataView(big.buffer).setBigUint64(0, BigInt(17 * 1024 * 1024), true);
    expect(() => readSafetensors(big)).toThrow(/over the 16777216-byte limit/);
  });

  it('rejects a truncated file whose tensor claims more bytes than remain', () => {
    const good = writeSafetensors([['w', { shape: [4, 4], data: new Float32Array(16) }]]);
    expect(() => readSafetensors(good.subarray(0, good.length - 4))).toThrow(/claims bytes 0..64 but the file holds only 60/);
    const gigantic = craft({ w: { dtype: 'F32', shape: [1 << 20, 1 << 10], data_offsets: [0, 4 * 2 ** 30] } }, 16);
    expect(() => readSafetensors(gigantic)).toThrow(/holds only 16 bytes/);
  });

  it('rejects shapes that do not match byte counts, bad offsets and overlaps', () => {
    expect(() => readSafetensors(craft({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8))).toThrow(
      /shape \[3\] \(12 bytes of F32\) but 8 bytes/,
    );
    expect(() => readSafetensors(craft({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4))).toThrow(/invalid shape/);
    expect(() => readSafetensors(craft({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, 4))).toThrow(/invalid data offsets/);
    expect(() => readSafetensors(craft({ w: { dtype: 'BF16', shape: [1], data_offsets: [0, 2] } }, 2))).toThrow(/only F32, F64 and I32/);
    const overlap = craft(
      { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
      12,
    );
    expect(() => readSafetensors(overlap)).toThrow(/"a" and "b" overlap/);
    expect(() => readSafetensors(craft({ __metadata__: { n: 3 } }, 0))).toThrow(/metadata entry "n" must be a string/);
  });

  it('reports tensors holding NaN or infinite weights', () => {
    const w = new Float32Array(8);
    w[5] = Number.NaN;
    const inf = Float64Array.from([1, Number.POSITIVE_INFINITY]);
    const f = readSafetensors(
      writeSafetensors([
        ['ok', { shape: [2], data: new Float32Array(2) }],
        ['nan', { shape: [8], data: w }],
        ['inf', { shape: [2], data: inf }],
      ]),
    );
    expect(nonFiniteTensors(f)).toEqual(['nan', 'inf']);
  });
});
