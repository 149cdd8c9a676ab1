// A FIFO turn-taker for the GPU queue: training steps, generated tokens,
// attention maps and exports each take a turn, so generation is served
// between training steps on the current weights.
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  /** Run `fn` after every earlier turn has finished; its result (or error) is returned. */
  run<T>(fn: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Forget earlier turns (after a device loss, when they may never finish). */
  reset(): void {
    this.tail = Promise.resolve();
  }
}
