// Safetensors read / write: an 8-byte little-endian header length N, N bytes of
// JSON ({ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__:
// { string: string } }), then the raw little-endian tensor bytes.
//
// Files come from users, so the reader trusts nothing: the header length is
// checked against the file size BEFORE decoding, the JSON is parsed with
// JSON.parse only, and every tensor's dtype, shape, byte count and offsets
// are checked (in range, non-overlapping) before any data is touched.

export type Dtype = 'F32' | 'F64' | 'I32';

export type TensorData = Float32Array | Float64Array | Int32Array;

export interface Tensor {
  dtype: Dtype;
  shape: number[];
  data: TensorData;
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** Headers larger than this are refused before decoding. */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;

const BYTES: Record<Dtype, number> = { F32: 4, F64: 8, I32: 4 };

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

function fail(message: string): never {
  throw new SafetensorsError(message);
}

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isDtype(x: unknown): x is Dtype {
  return x === 'F32' || x === 'F64' || x === 'I32';
}

function copyTyped(dtype: Dtype, bytes: Uint8Array): TensorData {
  // Copy into a fresh, aligned buffer; DataView reads keep it little-endian on any host.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / BYTES[dtype];
  if (dtype === 'F32') {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }
  if (dtype === 'F64') {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
    return out;
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
  return out;
}

/** Parse a safetensors file; throws SafetensorsError with a sentence on anything malformed. */
export function readSafetensors(input: ArrayBuffer | Uint8Array): SafetensorsFile {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const size = bytes.byteLength;
  if (size < 8) fail(`This is not a safetensors file: it is only ${size} bytes long, shorter than the 8-byte header length.`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, size);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const headerLen = hi * 2 ** 32 + lo;
  if (headerLen > size - 8) {
    fail(`This is not a valid safetensors file: its header claims ${headerLen} bytes but the file has only ${size - 8} after the length.`);
  }
  if (headerLen > MAX_HEADER_BYTES) {
    fail(`The safetensors header is ${headerLen} bytes, over the ${MAX_HEADER_BYTES}-byte limit; refusing to decode it.`);
  }
  if (headerLen < 2) fail('This is not a valid safetensors file: its header is empty.');

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    fail('This is not a safetensors file: its header is not valid JSON.');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail('This is not a safetensors file: its header is not a JSON object.');
  }

  const dataStart = 8 + headerLen;
  const dataLen = size - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Array<{ name: string; dtype: Dtype; shape: number[]; begin: number; end: number }> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('The safetensors __metadata__ must be an object of strings.');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`The safetensors metadata entry "${k}" must be a string.`);
        metadata[k] = v;
      }
      continue;
    }
    if (typeof raw !== 'object' || raw === null) fail(`Tensor "${name}" has no description in the header.`);
    const { dtype, shape, data_offsets: offsets } = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!isDtype(dtype)) fail(`Tensor "${name}" has dtype ${String(dtype)}; only F32, F64 and I32 are supported.`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`Tensor "${name}" has an invalid shape ${JSON.stringify(shape)}.`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[1] < offsets[0]
    ) {
      fail(`Tensor "${name}" has invalid data offsets ${JSON.stringify(offsets)}.`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLen) {
      fail(`Tensor "${name}" claims bytes ${begin}..${end} but the file holds only ${dataLen} bytes of data (truncated or corrupt).`);
    }
    const want = numel(shape as number[]) * BYTES[dtype];
    if (want !== end - begin) {
      fail(`Tensor "${name}" has shape [${(shape as number[]).join(', ')}] (${want} bytes of ${dtype}) but ${end - begin} bytes of data.`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }

  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      fail(`Tensors "${sorted[i - 1].name}" and "${sorted[i].name}" overlap in the file.`);
    }
  }

  const tensors = new Map<string, Tensor>();
  for (const e of entries) {
    const data = copyTyped(e.dtype, bytes.subarray(dataStart + e.begin, dataStart + e.end));
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

/** Names of tensors holding NaN or infinite values (empty when all are finite). */
export function nonFiniteTensors(file: SafetensorsFile): string[] {
  const bad: string[] = [];
  for (const [name, t] of file.tensors) {
    if (t.dtype === 'I32') continue;
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) {
        bad.push(name);
        break;
      }
    }
  }
  return bad;
}

function dtypeOf(data: TensorData): Dtype {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  return 'I32';
}

/** Serialise tensors (in the map's order) and string metadata to safetensors bytes. */
export function writeSafetensors(
  tensors: Map<string, { shape: number[]; data: TensorData }> | Array<[string, { shape: number[]; data: TensorData }]>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const list = Array.isArray(tensors) ? tensors : [...tensors];
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of list) {
    if (name === '__metadata__') fail('A tensor cannot be named __metadata__.');
    if (numel(t.shape) !== t.data.length) {
      fail(`Tensor "${name}" has shape [${t.shape.join(', ')}] but ${t.data.length} values.`);
    }
    const dtype = dtypeOf(t.data);
    const len = t.data.length * BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + len] };
    offset += len;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  const jsonBytes0 = new TextEncoder().encode(json);
  json += ' '.repeat((8 - ((8 + jsonBytes0.length) % 8)) % 8);
  const jsonBytes = new TextEncoder().encode(json);

  const out = new Uint8Array(8 + jsonBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, jsonBytes.length, true);
  view.setUint32(4, 0, true);
  out.set(jsonBytes, 8);
  let pos = 8 + jsonBytes.length;
  for (const [, t] of list) {
    const dtype = dtypeOf(t.data);
    for (let i = 0; i < t.data.length; i++) {
      if (dtype === 'F32') view.setFloat32(pos, t.data[i], true);
      else if (dtype === 'F64') view.setFloat64(pos, t.data[i], true);
      else view.setInt32(pos, t.data[i], true);
      pos += BYTES[dtype];
    }
  }
  return out;
}
