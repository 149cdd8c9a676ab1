// The engine's state, shared by every request handler: the GPU device, the
// open run and what works on it (training, a generation, a DPO job), the one
// queue all GPU work takes turns on (Serial), and the stores of runs and of
// their inspection timelines. The worker holds one Engine; handlers (router.ts)
// receive it.
import { CheckpointStore } from './checkpointStore';
import type { Generation } from './generator';
import { Timeline, TimelineStore } from './insights';
import { Device, deviceLost } from './jobs/device';
import { RunOwnership } from './ownership';
import type { EngineEvent, EngineReply } from './protocol';
import type { Run } from './runs';
import { Serial } from './serial';

/** A DPO loop in progress; `stop` asks it to end after the step in flight. */
export interface DpoJob {
  stop: boolean;
}

export const NOT_LOADED: EngineReply = { kind: 'error', message: 'Load a corpus and a model first.' };

const DPO_BUSY: EngineReply = { kind: 'error', message: 'DPO is training this run: stop it (or let it finish) first.' };

export class Engine {
  readonly serial = new Serial();
  readonly device: Device;
  /** Saved runs; replaced by one without storage when a test blocks it. */
  store: CheckpointStore;
  /** The inspection timeline of the open run, saved beside its checkpoints. */
  readonly timeline = new Timeline();
  readonly timelineStore: TimelineStore;
  /** The open run, or null before any is loaded. */
  run: Run | null = null;
  /** The generation in progress, if any. */
  generation: Generation | null = null;
  dpoJob: DpoJob | null = null;
  /** Work left running after a reply (an imported run's first evaluation and save), or null. */
  private background: Promise<void> | null = null;
  /** Which runs this tab may write (one writer per run across tabs), and the news from other tabs. */
  readonly owners: RunOwnership;

  constructor(
    readonly emit: (event: EngineEvent) => void,
    env: { gpu: GPU | undefined; indexedDB: IDBFactory | null },
  ) {
    this.device = new Device(env.gpu, {
      onLost: (message) => deviceLost(this, message),
      onError: (message) => emit({ kind: 'gpuError', message }),
    });
    this.store = new CheckpointStore(env.indexedDB);
    // A rename in another tab reaches the open run here too, so its files and saves carry the new name.
    this.owners = new RunOwnership((event) => {
      const t = this.run?.trainer;
      if (event.kind === 'runNews' && event.what === 'renamed' && t && t.setup.run.id === event.id && event.name) {
        t.setup = { ...t.setup, run: { ...t.setup.run, name: event.name, ...(event.notes !== undefined ? { notes: event.notes } : {}) } };
      }
      emit(event);
    });
    this.timelineStore = new TimelineStore(env.indexedDB);
  }

  /** The refusal while DPO trains the open run, or null when none does. */
  dpoBusy(): EngineReply | null {
    return this.dpoJob ? DPO_BUSY : null;
  }

  /**
   * Run `job` after the reply: requests that change weights or the open run
   * wait for it (`settled`), while views on the current weights are served
   * meanwhile. The job reports its own problems (as events); a failure never
   * blocks the requests after it.
   */
  inBackground(job: () => Promise<void>): void {
    const done = this.settled().then(job);
    const tracked = done.catch(() => undefined).finally(() => {
      if (this.background === tracked) this.background = null;
    });
    this.background = tracked;
  }

  /** Resolves once the background work started so far has finished. */
  async settled(): Promise<void> {
    while (this.background) await this.background;
  }

  /** A new timeline for a new run (the page's view cleared too). */
  clearTimeline(): void {
    this.timeline.clear();
    this.emit({ kind: 'timeline', snapshots: [] });
  }
}
