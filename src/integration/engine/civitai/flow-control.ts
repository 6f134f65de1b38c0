/**
 * How fast, how many at once, and when to stop asking: the pieces the HTTP layer combines.
 * None of them holds a lock while it waits, so one slow caller never stalls the others.
 */

/**
 * A token bucket whose refill rate adapts (AIMD): halved on every 429, raised by a twentieth
 * of the configured rate on every success, never above it. A 429 storm slows us down at once;
 * a calm server gets its full rate back within a few dozen requests.
 */
export class AdaptiveTokenBucket {
  private tokens: number;
  private last: number;
  private perMinute: number;
  private readonly maxPerMinute: number;
  private readonly minPerMinute: number;
  private readonly capacity: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(maxPerMinute: number, sleep: (ms: number) => Promise<void>, now: () => number = Date.now) {
    this.maxPerMinute = Math.max(1, maxPerMinute);
    this.minPerMinute = Math.min(this.maxPerMinute, 6);
    this.perMinute = this.maxPerMinute;
    // As in the seed: the bucket holds a minute's worth and starts full.
    this.capacity = this.maxPerMinute;
    this.tokens = this.capacity;
    this.now = now;
    this.last = now();
    this.sleep = sleep;
  }

  get ratePerMinute(): number {
    return this.perMinute;
  }

  async take(): Promise<void> {
    for (;;) {
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.sleep(Math.ceil(((1 - this.tokens) * 60_000) / this.perMinute));
    }
  }

  onThrottled(): void {
    this.refill();
    this.perMinute = Math.max(this.minPerMinute, this.perMinute / 2);
    this.tokens = Math.min(this.tokens, 0);
  }

  onSuccess(): void {
    this.perMinute = Math.min(this.maxPerMinute, this.perMinute + this.maxPerMinute / 20);
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.perMinute) / 60_000);
    this.last = now;
  }
}

export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly limit: number;
  constructor(limit: number) {
    this.limit = Math.max(1, limit);
  }
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await task();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}

type BreakerState = { failures: number; openedAt?: number; probing: boolean };

/**
 * One breaker per endpoint group (`model-versions`, `models`, `images`, or a download host).
 * After `threshold` failures in a row it opens: calls fail at once for `resetMs`, then one
 * probe is let through (half-open); its success closes the breaker, its failure reopens it.
 */
export class CircuitBreaker {
  private readonly states = new Map<string, BreakerState>();
  private readonly threshold: number;
  private readonly resetMs: number;
  private readonly now: () => number;

  constructor(threshold: number, resetMs: number, now: () => number = Date.now) {
    this.threshold = Math.max(1, threshold);
    this.resetMs = resetMs;
    this.now = now;
  }

  /** Whether a call to `key` may go out now; a half-open breaker admits one probe. */
  allow(key: string): boolean {
    const state = this.states.get(key);
    if (!state || state.openedAt === undefined) return true;
    if (this.now() - state.openedAt < this.resetMs || state.probing) return false;
    state.probing = true;
    return true;
  }

  /** Milliseconds until an open breaker admits its probe. */
  retryInMs(key: string): number {
    const openedAt = this.states.get(key)?.openedAt;
    return openedAt === undefined ? 0 : Math.max(0, this.resetMs - (this.now() - openedAt));
  }

  success(key: string): void {
    this.states.delete(key);
  }

  failure(key: string): void {
    const state = this.states.get(key) ?? { failures: 0, probing: false };
    state.failures += 1;
    if (state.probing || state.failures >= this.threshold) {
      state.openedAt = this.now();
      state.probing = false;
    }
    this.states.set(key, state);
  }

  isOpen(key: string): boolean {
    return this.states.get(key)?.openedAt !== undefined;
  }
}
