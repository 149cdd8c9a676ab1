// One writer per run, across the tabs of this browser. The tab whose engine
// opens a run holds a Web Lock named after it for as long as the run is open;
// a closed or crashed tab lets its locks go by itself. Another tab that opens
// the same run gets it read-only: it can look, sample and duplicate, but not
// train it, and its checkpoints are refused. Every stored record carries a
// revision (checkpointStore.ts); the owner remembers the revision it last wrote,
// so a save made from an older one is refused with a sentence instead of
// overwriting steps saved meanwhile. Each write is announced on a
// BroadcastChannel so other tabs refresh their view of the run live.
import type { CheckpointStore, RunCheckpoint, SaveResult } from './checkpointStore';
import type { EngineEvent } from './protocol';

/** The lock a tab holds on a run it has open. */
export const lockName = (id: string) => `gpt-playground-run:${id}`;
const CHANNEL = 'gpt-playground-runs';

/** What one tab tells the others about a run it wrote to. */
export interface RunNews {
  id: string;
  what: 'saved' | 'renamed' | 'deleted';
  step?: number;
  name?: string;
  notes?: string;
}

export const OWNED_ELSEWHERE =
  'Another tab of this browser has this run open and is the one that trains it; this tab shows it read-only. Use "Duplicate to train here" to carry on in this tab as a new run, or close the other tab.';

type Locks = LockManager | null;

export class RunOwnership {
  /** The run whose lock this tab holds, and how to let it go. */
  private held: { id: string; release: () => void } | null = null;
  /** Per run: the revision this tab last read or wrote. */
  private readonly revisions = new Map<string, number>();
  private readonly channel: BroadcastChannel | null;

  constructor(
    private readonly emit: (event: EngineEvent) => void,
    private readonly locks: Locks = (globalThis.navigator as Navigator | undefined)?.locks ?? null,
  ) {
    this.channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL) : null;
    if (this.channel) this.channel.onmessage = (e: MessageEvent<RunNews>) => this.emit({ kind: 'runNews', ...e.data });
  }

  /** Whether this tab holds the run's lock. */
  owns(id: string): boolean {
    return !this.locks || this.held?.id === id;
  }

  /**
   * Take the run's lock if no tab holds it (letting go of the one held before,
   * unless it is the same run). True when this tab now owns it.
   */
  async claim(id: string): Promise<boolean> {
    if (this.owns(id)) return true;
    const locks = this.locks!;
    this.release();
    let release = () => {};
    const hold = new Promise<void>((resolve) => (release = resolve));
    const got = await new Promise<boolean>((resolve) => {
      locks
        .request(lockName(id), { ifAvailable: true }, (lock) => {
          resolve(lock !== null);
          return lock ? hold : undefined;
        })
        .catch(() => resolve(false));
    });
    if (got) this.held = { id, release };
    return got;
  }

  release(): void {
    this.held?.release();
    this.held = null;
  }

  /** Ids of the runs whose lock some other tab holds. */
  async heldElsewhere(): Promise<string[]> {
    if (!this.locks) return [];
    try {
      const { held = [] } = await this.locks.query();
      const prefix = lockName('');
      return held
        .map((l) => l.name ?? '')
        .filter((n) => n.startsWith(prefix) && n !== (this.held ? lockName(this.held.id) : ''))
        .map((n) => n.slice(prefix.length));
    } catch {
      return [];
    }
  }

  /** The revision this tab read the run at (0 for a run it made). */
  setRevision(id: string, revision: number): void {
    this.revisions.set(id, revision);
  }

  revisionOf(id: string): number {
    return this.revisions.get(id) ?? 0;
  }

  /** Save a checkpoint only as the run's owner and only over the revision it last saw. */
  async save(store: CheckpointStore, c: RunCheckpoint): Promise<SaveResult> {
    const id = c.run?.id;
    if (!id) return store.save(c);
    if (!(await this.claim(id))) return { saved: false, message: `Checkpoint not saved: ${OWNED_ELSEWHERE}` };
    const result = await store.save(c, { revision: this.revisionOf(id) });
    if (result.saved) {
      this.revisions.set(id, result.revision ?? this.revisionOf(id) + 1);
      this.announce({ id, what: 'saved', step: c.step });
    }
    return result;
  }

  announce(news: RunNews): void {
    try {
      this.channel?.postMessage(news);
    } catch {
      // A closed channel: nobody to tell.
    }
  }
}
