// The typed interface between the page and the engine worker, which owns the
// WebGPU device. The page never calls WebGPU itself.

import type { GpuFailure, GpuInfo } from '../gpu/device';

/** Requests from the page; each carries an id that its reply echoes. */
export type EngineRequest =
  | { kind: 'init' }
  | { kind: 'selfCheck'; M: number; N: number; K: number; seed: number };

export interface SelfCheckResult {
  M: number;
  N: number;
  K: number;
  /** Largest |gpu - cpu| over all outputs. */
  maxAbsDiff: number;
  /** Outputs the kernel did not write (left as the NaN poison). */
  unwritten: number;
  ok: boolean;
  ms: number;
}

/** Replies, matched to requests by id. */
export type EngineReply =
  | { kind: 'ready'; info: GpuInfo }
  | { kind: 'gpuUnavailable'; reason: GpuFailure; message: string }
  | { kind: 'selfCheck'; result: SelfCheckResult }
  | { kind: 'error'; message: string };

/** Unsolicited events from the worker. */
export type EngineEvent =
  | { kind: 'deviceLost'; message: string }
  | { kind: 'gpuError'; message: string };

export type ToWorker = { id: number; request: EngineRequest };
export type FromWorker = { id: number; reply: EngineReply } | { id: null; event: EngineEvent };
