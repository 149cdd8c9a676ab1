// Runs, kept in IndexedDB so none is ever lost: each run's configs, the corpus
// (a built-in id, or the user's own text, which never leaves the browser),
// vocabulary, parameters, AdamW moments, step, the batch sampler's RNG state,
// the loss history (thinned to a bounded number of points), wall time and
// throughput. A run is saved under its own id; a small summary of each (no
// weights) sits beside it for the runs table.
//
// Storage that is blocked or full never stops training: save() reports a
// sentence instead of throwing, and a full disk names the runs to delete.
import type { ModelConfig, TrainConfig } from '../model/config';
import type { TokenizerSpec } from '../model/runTokenizer';
import type { DpoStats, EvalStats, FineTuneInfo, HealthStats, LossPoint, RunIdentity, RunSummary } from './protocol';

export type { RunIdentity, RunSummary };

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
  /** Absent only in records written before runs had names (read as one run). */
  run?: RunIdentity;
  /** Training wall time so far (ms) and the recent throughput. */
  wallMs?: number;
  tokensPerSec?: number;
  savedAt: number;
  corpus: CorpusIdentity;
  model: ModelConfig;
  train: TrainConfig;
  vocab: string[];
  /** A run on tokens: its tokenizer (absent for characters, whose vocab says it all). */
  tokenizer?: TokenizerSpec;
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
  /** Set for a fine-tune of another run (LoRA or DPO). */
  fineTune?: StoredFineTune;
  /** The training-health readings so far (gradient norms, update ratios), so they come back with the run. */
  healthHistory?: HealthStats[];
  /** Bumped by every stored checkpoint of this run; a save made from an older one is refused (absent: 0). */
  revision?: number;
}

/** A fine-tune's record: where it came from and, under LoRA, its adapters (params then hold the frozen base, m and v are empty). */
export interface StoredFineTune {
  info: FineTuneInfo;
  /** LoRA: the adapters and their AdamW moments, in the flat adapter layout. */
  lora?: { adapters: Float32Array; m: Float32Array; v: Float32Array };
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
  const lora = c.fineTune?.lora;
  // A LoRA run's base is frozen: no moments for it.
  const momentsLength = lora ? 0 : c.params.length;
  if (c.m.length !== momentsLength || c.v.length !== momentsLength) {
    return 'The saved optimizer state does not match the parameters in size.';
  }
  if (lora) {
    const { adapters, m, v } = lora;
    if (!(adapters instanceof Float32Array) || m.length !== adapters.length || v.length !== adapters.length) return 'The saved LoRA adapters are incomplete.';
    for (const a of [adapters, m, v]) if (firstNonFinite(a) >= 0) return 'The saved LoRA adapters contain a non-finite value.';
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

/** The sentence for a save refused because another tab saved the run since this one read it. */
export function staleSaveMessage(storedStep: number): string {
  return `Checkpoint not saved: another tab saved this run since this tab read it (it is now at step ${storedStep}), and overwriting would lose those steps. Use "Duplicate to train here" to keep this tab's steps as a new run.`;
}

export type SaveResult = { saved: true; revision?: number } | { saved: false; message: string };

/** The id of the record written before runs had ids. */
export const LEGACY_ID = 'current';

export function identityOf(c: RunCheckpoint, fallbackId = LEGACY_ID): RunIdentity {
  return c.run ?? { id: fallbackId, name: `Run on ${c.corpus.name}`, preset: '', createdAt: c.savedAt, notes: '' };
}

export function recordBytes(c: RunCheckpoint): number {
  const lora = c.fineTune?.lora;
  const floats = c.params.length + c.m.length + c.v.length + (lora ? 3 * lora.adapters.length : 0);
  const text = c.corpus.text ? c.corpus.text.length * 2 : 0;
  return floats * 4 + text + (c.lossHistory.length + c.evalHistory.length) * 24;
}

/** A DPO run's latest statistics (loss, margin, accuracy), for the runs table. */
function dpoLast(c: RunCheckpoint): { dpo?: DpoStats } {
  const last = c.fineTune?.info.dpo?.history.at(-1);
  return last ? { dpo: last } : {};
}

export function summarize(c: RunCheckpoint, fallbackId = LEGACY_ID): RunSummary {
  return {
    ...identityOf(c, fallbackId),
    corpusName: c.corpus.name,
    builtIn: c.corpus.builtIn,
    model: c.model,
    train: c.train,
    step: c.step,
    savedAt: c.savedAt,
    wallMs: c.wallMs ?? 0,
    tokensPerSec: c.tokensPerSec ?? 0,
    trainLoss: c.lossHistory.at(-1)?.loss ?? null,
    valLoss: c.evalHistory.at(-1)?.valLoss ?? null,
    valBpc: c.evalHistory.at(-1)?.valBpc ?? null,
    ...(c.tokenizer && c.tokenizer.kind !== 'char' ? { tokenizer: c.tokenizer.kind } : {}),
    bytes: recordBytes(c),
    revision: c.revision ?? 0,
    ...(c.fineTune ? { fineTune: { kind: c.fineTune.info.kind, baseRunName: c.fineTune.info.baseRunName, baseRunId: c.fineTune.info.baseRunId, ...dpoLast(c) } } : {}),
    lossHistory: c.lossHistory,
    evalHistory: c.evalHistory,
  };
}

/** "12.3 MB": sizes in sentences. */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** The sentence for a full disk: the largest other runs, by name and size, to delete. */
export function fullDiskMessage(others: Pick<RunSummary, 'name' | 'bytes'>[]): string {
  const largest = others
    .slice()
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 3)
    .map((r) => `"${r.name}" (${humanBytes(r.bytes)})`);
  const what = largest.length
    ? `Delete runs you no longer need in the Runs tab, largest first: ${largest.join(', ')}.`
    : 'No other run is stored: free space in the browser (or clear other sites\' data), or export the model.';
  return `Checkpoints are not being saved: the browser storage for this site is full. Training goes on. ${what}`;
}

const DB_NAME = 'gpt-playground';
const DB_VERSION = 2;
/** Full records by run id. */
const STORE = 'runs';
/** RunSummary by run id. */
const SUMMARIES = 'summaries';

function describeStorageError(e: unknown, others: RunSummary[] = []): string {
  const name = (e as DOMException | null)?.name ?? '';
  if (name === 'QuotaExceededError') return fullDiskMessage(others);
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
        const req = this.factory.open(DB_NAME, DB_VERSION);
        req.onupgradeneeded = () => {
          const db = req.result;
          const runs = db.objectStoreNames.contains(STORE) ? req.transaction!.objectStore(STORE) : db.createObjectStore(STORE);
          if (!db.objectStoreNames.contains(SUMMARIES)) {
            const summaries = db.createObjectStore(SUMMARIES);
            // The one run of version 1 becomes a run of the table.
            const legacy = runs.get(LEGACY_ID);
            legacy.onsuccess = () => {
              const c = legacy.result as RunCheckpoint | undefined;
              if (c && !checkpointProblem(c)) summaries.put(summarize(c), LEGACY_ID);
            };
          }
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

  /**
   * Save a checkpoint of the run it names, replacing that run's previous one. Never throws.
   * With `revision` (the one the writer last read or wrote), a run stored meanwhile at another
   * revision is left as it is and the save refused with a sentence; the stored name and notes
   * (renames from any tab) are kept over the writer's.
   */
  async save(c: RunCheckpoint, opts: { revision?: number } = {}): Promise<SaveResult> {
    const problem = checkpointProblem(c);
    if (problem) return { saved: false, message: `Checkpoint not saved: ${problem}` };
    const id = identityOf(c).id;
    try {
      const db = await this.open();
      const tx = db.transaction([STORE, SUMMARIES], 'readwrite');
      const runs = tx.objectStore(STORE);
      let refused: string | null = null;
      let revision = 0;
      // The put is queued from the get's success event: read and write are one transaction.
      const prev = runs.get(id);
      prev.onsuccess = () => {
        const stored = prev.result as RunCheckpoint | undefined;
        const storedRevision = stored?.revision ?? 0;
        if (stored && opts.revision !== undefined && storedRevision !== opts.revision) {
          refused = staleSaveMessage(stored.step);
          return;
        }
        revision = storedRevision + 1;
        const run = stored?.run && c.run ? { ...c.run, name: stored.run.name, notes: stored.run.notes } : c.run;
        const record: RunCheckpoint = { ...c, ...(run ? { run } : {}), revision };
        runs.put(record, id);
        tx.objectStore(SUMMARIES).put(summarize(record, id), id);
      };
      await done(tx);
      return refused ? { saved: false, message: refused } : { saved: true, revision };
    } catch (e) {
      const others = (await this.list().catch(() => [])).filter((r) => r.id !== id);
      return { saved: false, message: describeStorageError(e, others) };
    }
  }

  /** A run, or null when there is none, it cannot be read, or it is unsound. */
  async load(id: string): Promise<RunCheckpoint | null> {
    try {
      const db = await this.open();
      const c = (await request(db.transaction(STORE, 'readonly').objectStore(STORE).get(id))) as RunCheckpoint | undefined;
      if (!c || checkpointProblem(c)) return null;
      return { ...c, run: identityOf(c, id) };
    } catch {
      return null;
    }
  }

  /** Every run's summary, the most recently saved first; [] without storage. */
  async list(): Promise<RunSummary[]> {
    try {
      const db = await this.open();
      const all = (await request(db.transaction(SUMMARIES, 'readonly').objectStore(SUMMARIES).getAll())) as RunSummary[];
      return all.sort((a, b) => b.savedAt - a.savedAt);
    } catch {
      return [];
    }
  }

  /** The run saved last, or null. */
  async latest(): Promise<RunCheckpoint | null> {
    const [first] = await this.list();
    return first ? this.load(first.id) : null;
  }

  /** Change a run's name or notes; false when the run is not stored. */
  async update(id: string, patch: Partial<Pick<RunIdentity, 'name' | 'notes'>>): Promise<boolean> {
    try {
      const db = await this.open();
      const tx = db.transaction([STORE, SUMMARIES], 'readwrite');
      const runs = tx.objectStore(STORE);
      const summaries = tx.objectStore(SUMMARIES);
      let found = false;
      // Each put is queued from its get's success event, so the transaction stays open throughout.
      const full = runs.get(id);
      full.onsuccess = () => {
        const c = full.result as RunCheckpoint | undefined;
        if (!c) return;
        found = true;
        runs.put({ ...c, run: { ...identityOf(c, id), ...patch } }, id);
      };
      const sum = summaries.get(id);
      sum.onsuccess = () => {
        const x = sum.result as RunSummary | undefined;
        if (x) summaries.put({ ...x, ...patch }, id);
      };
      await done(tx);
      return found;
    } catch {
      return false;
    }
  }

  async remove(id: string): Promise<void> {
    try {
      const db = await this.open();
      const tx = db.transaction([STORE, SUMMARIES], 'readwrite');
      tx.objectStore(STORE).delete(id);
      tx.objectStore(SUMMARIES).delete(id);
      await done(tx);
    } catch {
      // Nothing saved, nothing to delete.
    }
  }
}
