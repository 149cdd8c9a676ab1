// Interpretability in the engine: one inspection of the model on a text (the
// GPU probe: logit lens, per-position losses, attention; head scores on that
// text and on the induction probe; a short greedy sample), the timeline of
// such snapshots taken at every evaluation (bounded: older ones thinned), and
// its storage in IndexedDB beside the saved run.
import { headScores, inductionProbe, inductionScores, topK } from '../model/inspect';
import { appendThinned } from './checkpointStore';
import type { ProbingModel } from './model';
import { LENS_TOP, type Insights } from './protocol';
import type { Serial } from './serial';

/** Characters of the validation split the timeline probes (at most; the context may be shorter). */
export const PROBE_CHARS = 64;
/** Greedy characters sampled per snapshot, after the probe's first SAMPLE_PROMPT characters. */
export const SAMPLE_CHARS = 24;
export const SAMPLE_PROMPT = 8;
/** Snapshots kept per run; past this the older half is thinned to every other one. */
export const MAX_SNAPSHOTS = 48;
/** Seed of the induction probe's random characters (the same probe at every snapshot). */
const INDUCTION_SEED = 0x1d0c7;

/** Bytes one snapshot holds (its typed arrays and strings). */
export function snapshotBytes(s: Insights): number {
  const strings = s.tokens.join('').length + s.sample.length + s.samplePrompt.length;
  return s.att.byteLength + s.lensIds.byteLength + s.lensProbs.byteLength + s.bits.byteLength + s.heads.byteLength + 2 * strings;
}

/**
 * Inspect `model` on `ids` (1..blockSize tokens). GPU work goes through
 * `serial`, one forward at a time, so training steps and other requests
 * interleave.
 */
export async function inspectModel(
  model: ProbingModel,
  serial: Serial,
  vocab: string[],
  ids: Int32Array,
  meta: { step: number; source: Insights['source']; cropped: number; unknown: string[] },
  /** Each token's share of the decoded text (a run on tokens: partial UTF-8 held until complete); default: its vocabulary entry. */
  texts: (ids: number[]) => string[] = (xs) => xs.map((id) => vocab[id]),
): Promise<Insights> {
  const { nLayer: L, nHead: NH, vocabSize: V, blockSize } = model.config;
  const T = ids.length;
  const probe = await serial.run(() => model.probe(ids));

  const lensIds = new Uint16Array(L * T * LENS_TOP);
  const lensProbs = new Float32Array(L * T * LENS_TOP);
  for (let c = 0; c < L * T; c++) {
    const top = topK(probe.lens, c * V, V, LENS_TOP);
    for (let k = 0; k < top.ids.length; k++) {
      lensIds[c * LENS_TOP + k] = top.ids[k];
      lensProbs[c * LENS_TOP + k] = top.probs[k];
    }
  }
  const bits = Float32Array.from(probe.losses, (nats) => nats / Math.LN2);

  const heads = new Float32Array(L * NH * 4).fill(Number.NaN);
  if (T >= 2) {
    const scores = headScores(probe.att, L, NH, T);
    for (let l = 0; l < L; l++) for (let h = 0; h < NH; h++) heads.set([scores[l][h].previous, scores[l][h].first, scores[l][h].self], (l * NH + h) * 4);
  }
  const n = Math.min(Math.floor(blockSize / 2), Math.floor(PROBE_CHARS / 2));
  const inductionLength = n >= 2 ? n : 0;
  if (inductionLength) {
    // Random tokens of the run's vocabulary, the line break left out (a toy task's examples end there).
    const newline = vocab.indexOf('\n');
    const ind = await serial.run(() => model.probe(inductionProbe(V, n, INDUCTION_SEED, newline >= 0 ? [newline] : [])));
    const scores = inductionScores(ind.att, L, NH, n);
    for (let l = 0; l < L; l++) for (let h = 0; h < NH; h++) heads[(l * NH + h) * 4 + 3] = scores[l][h];
  }

  // A short greedy continuation of the text's start, on the same weights.
  const prompt = Math.min(SAMPLE_PROMPT, T);
  const context = Array.from(ids.subarray(0, prompt));
  for (let i = 0; i < SAMPLE_CHARS; i++) {
    const window = Int32Array.from(context.slice(-blockSize));
    // The trained model, without the views' live ablations (as the probe).
    const logits = await serial.run(() => model.logits(window, { interventions: false }));
    const next = topK(logits, 0, V, 1).ids[0];
    context.push(next);
  }
  const sampled = texts(context);
  const spelled = texts(Array.from(ids));

  return {
    step: meta.step,
    source: meta.source,
    tokens: Array.from(ids, (id) => vocab[id]),
    nLayer: L,
    nHead: NH,
    T,
    att: probe.att,
    lensIds,
    lensProbs,
    bits,
    heads,
    inductionLength,
    samplePrompt: sampled.slice(0, prompt).join(''),
    sample: sampled.slice(prompt).join(''),
    cropped: meta.cropped,
    unknown: meta.unknown,
    predictedChars: [...spelled.slice(1).join('')].length,
  };
}

/** Validation windows the in-context-learning score averages over. */
export const ICL_WINDOWS = 4;

/**
 * Anthropic's in-context-learning score on `windows` evenly spaced windows of
 * `val` as long as the context (T tokens): the mean loss at the last position
 * (late = T - 2, the last query with a target in the window) minus at an early
 * one (early = round(late / 10), at least 1; Anthropic's 500 and 50, scaled to
 * the context). A position is a query: the loss of the token after it given it
 * and everything before (tests/reference/interventions.ts inContextLearningScore).
 * Null when the split or the context is too short.
 */
export async function inContextLearning(model: ProbingModel, serial: Serial, val: Int32Array, windows = ICL_WINDOWS): Promise<Insights['icl'] | null> {
  const T = Math.min(model.config.blockSize, val.length);
  const late = T - 2;
  const early = Math.max(1, Math.round(late / 10));
  if (late <= early || windows < 1) return null;
  let sum = 0;
  for (let k = 0; k < windows; k++) {
    const start = windows > 1 ? Math.floor((k * (val.length - T)) / (windows - 1)) : 0;
    const probe = await serial.run(() => model.probe(val.slice(start, start + T)));
    sum += probe.losses[late] - probe.losses[early];
  }
  return { score: sum / windows, early, late, windows };
}

/** The snapshots of one run, oldest first, at most MAX_SNAPSHOTS. */
export class Timeline {
  snapshots: Insights[] = [];

  /** Add a snapshot; any at or after its step (a rolled-back future) are dropped first. */
  add(s: Insights): void {
    this.snapshots = appendThinned(
      this.snapshots.filter((x) => x.step < s.step),
      s,
      MAX_SNAPSHOTS,
    );
  }

  upTo(step: number): Insights[] {
    return this.snapshots.filter((s) => s.step <= step);
  }

  replace(snapshots: Insights[]): void {
    this.snapshots = snapshots.slice(-MAX_SNAPSHOTS);
  }

  clear(): void {
    this.snapshots = [];
  }
}

const DB_NAME = 'gpt-playground-insights';
const STORE = 'timelines';

interface StoredTimeline {
  /** Which run these snapshots belong to (corpus, model and training setup). */
  run: string;
  snapshots: Insights[];
}

/**
 * Identifies a run's timeline across reloads: the run's id, or for records
 * written before runs had ids, its corpus, model and training configuration.
 */
export function runKey(r: { run?: { id: string }; corpus: { name: string }; model: unknown; train: unknown }): string {
  return r.run?.id ?? JSON.stringify([r.corpus.name, r.model, r.train]);
}

/**
 * The timeline of the saved run in IndexedDB, in a database of its own beside
 * the checkpoints. Storage that is blocked or full never stops training: the
 * methods never throw.
 */
export class TimelineStore {
  private db: Promise<IDBDatabase> | null = null;

  constructor(private readonly factory: IDBFactory | null) {}

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
      this.db.catch(() => (this.db = null));
    }
    return this.db;
  }

  async save(run: string, snapshots: Insights[]): Promise<boolean> {
    try {
      const db = await this.open();
      const tx = db.transaction(STORE, 'readwrite');
      tx.objectStore(STORE).put({ run, snapshots } satisfies StoredTimeline, run);
      await new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
      return true;
    } catch {
      return false;
    }
  }

  /** The saved snapshots of `run`, or none (records of one run under 'current' are read too). */
  async load(run: string): Promise<Insights[]> {
    try {
      const db = await this.open();
      const get = (key: string) => {
        const req = db.transaction(STORE, 'readonly').objectStore(STORE).get(key);
        return new Promise<StoredTimeline | undefined>((resolve, reject) => {
          req.onsuccess = () => resolve(req.result as StoredTimeline | undefined);
          req.onerror = () => reject(req.error);
        });
      };
      const stored = (await get(run)) ?? (await get('current'));
      return stored && stored.run === run && Array.isArray(stored.snapshots) ? stored.snapshots : [];
    } catch {
      return [];
    }
  }

  /** Forget the timeline of a deleted run. */
  async remove(run: string): Promise<void> {
    try {
      const db = await this.open();
      const tx = db.transaction(STORE, 'readwrite');
      tx.objectStore(STORE).delete(run);
      await new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    } catch {
      // storage blocked: nothing to forget
    }
  }
}
