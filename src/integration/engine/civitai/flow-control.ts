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

/**
 * How many requests to one host may be in flight at once, adapting (AIMD): halved on every 429
 * or 503, raised by one after as many successes as the limit allows at once (about one step per
 * round of requests), never above `max`. A Retry-After holds back the next requests to that host
 * until it has passed. This paces the image CDN: a busy CDN gets fewer requests at once, an idle
 * one as many as `max`, and neither is held to the API's per-minute budget.
 */
export class AdaptiveConcurrency {
  private active = 0;
  private current: number;
  private successes = 0;
  private pausedUntil = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly max: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  /** The lowest limit reached so far. */
  lowest: number;

  constructor(max: number, sleep: (ms: number) => Promise<void>, now: () => number = Date.now) {
    this.max = Math.max(1, Math.floor(max));
    this.current = this.max;
    this.lowest = this.max;
    this.sleep = sleep;
    this.now = now;
  }

  get limit(): number {
    return this.current;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    // One wait for a pause set before this request: checking the clock again in a loop would
    // spin when an injected sleep returns at once.
    const pause = this.pausedUntil - this.now();
    if (pause > 0) await this.sleep(pause);
    while (this.active >= this.current) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await task();
    } finally {
      this.active -= 1;
      this.wake();
    }
  }

  /** A 429 or 503: half as many at once, and none before `retryAfterMs` (already capped) has passed. */
  onThrottled(retryAfterMs?: number): void {
    this.current = Math.max(1, Math.floor(this.current / 2));
    this.lowest = Math.min(this.lowest, this.current);
    this.successes = 0;
    if (retryAfterMs !== undefined && retryAfterMs > 0) this.pausedUntil = Math.max(this.pausedUntil, this.now() + retryAfterMs);
  }

  onSuccess(): void {
    if (this.current >= this.max) return;
    this.successes += 1;
    if (this.successes < this.current) return;
    this.successes = 0;
    this.current += 1;
    this.wake();
  }

  private wake(): void {
    for (let free = this.current - this.active; free > 0 && this.waiting.length > 0; free -= 1) this.waiting.shift()?.();
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
