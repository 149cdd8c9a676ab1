// The current run, kept in IndexedDB so a reload can resume it: configs, the
// corpus (a built-in id, or the user's own text, which never leaves the
// browser), vocabulary, parameters, AdamW moments, step, the batch sampler's
// RNG state and the loss history (thinned to a bounded number of points).
//
// One run at a time, under one key. Storage that is blocked or full never
// stops training: save() reports a sentence instead of throwing.
import type { ModelConfig, TrainConfig } from '../model/config';
import type { EvalStats, LossPoint } from './protocol';

export const CHECKPOINT_VERSION = 1;
/** Loss-history points kept per series; older points are thinned, never the latest. */
export const MAX_HISTORY = 2000;

export interface CorpusIdentity {
  name: string;
  /** Built-in corpora are stored by name; the page supplies their text again on resume. */
  builtIn: boolean;
  /** The user's own text, stored only for corpora that are not built in. */
  text?: string;
}

export type HistoryPoint = LossPoint;
export type EvalPoint = EvalStats;

export interface RunCheckpoint {
  version: number;
  savedAt: number;
  corpus: CorpusIdentity;
  model: ModelConfig;
  train: TrainConfig;
  vocab: string[];
  /** Steps completed; the next step to run has this 0-based index. */
  step: number;
  params: Float32Array;
  /** AdamW first and second moments, same layout as params. */
  m: Float32Array;
  v: Float32Array;
  /** State of the batch sampler's RNG after `step` steps. */
  samplerState: number;
  lossHistory: HistoryPoint[];
  evalHistory: EvalPoint[];
}

/** Index of the first NaN or infinity, or -1. */
export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/** Why this record must not be saved or restored, as a sentence; null when it is sound. */
export function checkpointProblem(c: RunCheckpoint): string | null {
  if (c.version !== CHECKPOINT_VERSION) return `The saved run has format version ${c.version}; this app reads version ${CHECKPOINT_VERSION}.`;
  if (!(c.params instanceof Float32Array) || !(c.m instanceof Float32Array) || !(c.v instanceof Float32Array)) {
    return 'The saved run is missing its parameters or optimizer state.';
  }
  if (c.m.length !== c.params.length || c.v.length !== c.params.length) {
    return 'The saved optimizer state does not match the parameters in size.';
  }
  if (c.vocab.length !== c.model.vocabSize) return 'The saved vocabulary does not match the model.';
  if (!c.corpus.builtIn && typeof c.corpus.text !== 'string') return 'The saved run has lost its corpus text.';
  for (const [name, a] of [['parameters', c.params], ['first moments', c.m], ['second moments', c.v]] as const) {
    const bad = firstNonFinite(a);
    if (bad >= 0) return `The ${name} contain a non-finite value (index ${bad}); a run is only saved while it is finite.`;
  }
  if (!Number.isInteger(c.step) || c.step < 0) return 'The saved step count is not a whole number.';
  return null;
}

/**
 * Append a point and keep at most `max`: when full, drop every other point of
 * the older half, so the curve keeps its shape and the recent steps stay dense.
 */
export function appendThinned<T>(history: T[], point: T, max = MAX_HISTORY): T[] {
  history.push(point);
  if (history.length <= max) return history;
  const half = Math.floor(history.length / 2);
  const older = history.slice(0, half).filter((_, i) => i % 2 === 0);
  return older.concat(history.slice(half));
}

export type SaveResult = { saved: true } | { saved: false; message: string };

const DB_NAME = 'gpt-playground';
const STORE = 'runs';
const KEY = 'current';

function describeStorageError(e: unknown): string {
  const name = (e as DOMException | null)?.name ?? '';
  if (name === 'QuotaExceededError') {
    return 'Checkpoints are not being saved: the browser storage for this site is full. Training goes on; free some space (or clear this site\'s data) to resume saving, or export the model.';
  }
  const detail = (e as Error | null)?.message ? ` (${(e as Error).message})` : '';
  return `Checkpoints are not being saved: this browser blocks storage for the page${detail}. Training goes on, but a reload will lose the run; export the model to keep it.`;
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new DOMException('The transaction was aborted.', 'AbortError'));
  });
}

export class CheckpointStore {
  private db: Promise<IDBDatabase> | null = null;

  /** `factory` null means no storage at all (blocked, or a browser without IndexedDB). */
  constructor(private readonly factory: IDBFactory | null = globalThis.indexedDB ?? null) {}

  private open(): Promise<IDBDatabase> {
    if (!this.db) {
      this.db = new Promise<IDBDatabase>((resolve, reject) => {
        if (!this.factory) {
          reject(new Error('IndexedDB is not available'));
          return;
        }
        const req = this.factory.open(DB_NAME, 1);
        req.onupgradeneeded = () => {
          if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
        };
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
        req.onblocked = () => reject(new Error('another tab holds an older version of the database'));
      });
      // A failed open is retried next time (the user may have freed space or changed settings).
      this.db.catch(() => (this.db = null));
    }
    return this.db;
  }

  /** Save the run, replacing any previous one. Never throws. */
  async save(c: RunCheckpoint): Promise<SaveResult> {
    const problem = checkpointProblem(c);
    if (problem) return { saved: false, message: `Checkpoint not saved: ${problem}` };
    try {
      const db = await this.open();
      const tx = db.transaction(STORE, 'readwrite');
      tx.objectStore(STORE).put(c, KEY);
      await done(tx);
      return { saved: true };
    } catch (e) {
      return { saved: false, message: describeStorageError(e) };
    }
  }

  /** The saved run, or null when there is none, it cannot be read, or it is unsound. */
  async load(): Promise<RunCheckpoint | null> {
    try {
      const db = await this.open();
      const c = (await request(db.transaction(STORE, 'readonly').objectStore(STORE).get(KEY))) as RunCheckpoint | undefined;
      if (!c || checkpointProblem(c)) return null;
      return c;
    } catch {
      return null;
    }
  }

  async clear(): Promise<void> {
    try {
      const db = await this.open();
      const tx = db.transaction(STORE, 'readwrite');
      tx.objectStore(STORE).delete(KEY);
      await done(tx);
    } catch {
      // Nothing saved, nothing to clear.
    }
  }
}
