/**
 * When to stop making a kind of call with a blocking function: a blocking call from the page
 * cache costs the main thread less than a thread-pool round trip, but on a network share or a
 * cold disk it would stall the event loop. Each timed call moves a count up when it was slower
 * than `slowMs` and down when it was not; once several in a row were slow, `slow` says to use
 * the thread pool from then on (one preempted call on a busy machine is not a slow device).
 */
export class BlockingWhileFast {
  readonly #slowMs: number;
  readonly #slowAfter: number;
  #slowInARow = 0;

  constructor(slowMs: number, slowAfter = 8) {
    this.#slowMs = slowMs;
    this.#slowAfter = slowAfter;
  }

  get slow(): boolean {
    return this.#slowInARow >= this.#slowAfter;
  }

  /** Runs the blocking `call` and counts how long it took, also when it throws. */
  time<T>(call: () => T): T {
    const before = performance.now();
    try {
      return call();
    } finally {
      this.#slowInARow = performance.now() - before > this.#slowMs ? this.#slowInARow + 1 : Math.max(0, this.#slowInARow - 1);
    }
  }
}
