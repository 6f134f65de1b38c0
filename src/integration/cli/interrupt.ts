/**
 * Ctrl-C (SIGINT) and SIGTERM, in three steps:
 *
 * 1. The first aborts `signal`: the engine stops between files, keeps what finished (the hash
 *    ledger, written sidecars) and lets the requests in flight finish; the CLI writes the report
 *    and exits 130.
 * 2. A second signal, or the grace period after the first (default 10 s), aborts
 *    `requestSignal`: the requests still in flight are cancelled and no new one goes out, so a
 *    server that answers slowly (or never) cannot hold the run; it still ends with the report
 *    written and exit 130.
 * 3. One more signal after that exits at once (still 130), without the report.
 */
import { EXIT } from './exit.ts';

export interface Interrupt {
  /** Aborted by the first signal. */
  readonly signal: AbortSignal;
  /** Aborted by the second signal or when the grace period after the first ends. */
  readonly requestSignal: AbortSignal;
  readonly interrupted: boolean;
  dispose(): void;
}

/** How long the requests in flight may still run after the first signal. */
export const DEFAULT_GRACE_MS = 10_000;

export interface InterruptOptions {
  graceMs?: number;
  /** The requests in flight are being cancelled (`second-signal` or `grace`). */
  onCancel?: (why: 'second-signal' | 'grace') => void;
}

/** `CIVITSCRAPER_INTERRUPT_GRACE` (seconds, e.g. `2.5`) overrides the grace period; anything else is ignored. */
export function graceFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.CIVITSCRAPER_INTERRUPT_GRACE?.trim();
  const seconds = raw ? Number(raw) : Number.NaN;
  return Number.isFinite(seconds) && seconds >= 0 ? Math.round(seconds * 1000) : DEFAULT_GRACE_MS;
}

export function handleInterrupts(onFirst: (signal: NodeJS.Signals) => void, options: InterruptOptions = {}): Interrupt {
  const controller = new AbortController();
  const requests = new AbortController();
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  let count = 0;
  let grace: NodeJS.Timeout | undefined;
  const cancelRequests = (why: 'second-signal' | 'grace', signal: NodeJS.Signals) => {
    clearTimeout(grace);
    if (requests.signal.aborted) return;
    requests.abort(Object.assign(new Error(`interrupted (${signal}): requests cancelled`), { name: 'AbortError' }));
    options.onCancel?.(why);
  };
  const handler = (signal: NodeJS.Signals) => {
    count += 1;
    if (count === 1) {
      controller.abort(Object.assign(new Error(`interrupted (${signal})`), { name: 'AbortError' }));
      onFirst(signal);
      // unref: a run that ends by itself within the grace period does not wait for it.
      grace = setTimeout(() => cancelRequests('grace', signal), graceMs);
      grace.unref();
      return;
    }
    if (!requests.signal.aborted) {
      cancelRequests('second-signal', signal);
      return;
    }
    process.stderr.write('\ninterrupted again: exiting now\n');
    process.exit(EXIT.interrupted);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    requestSignal: requests.signal,
    get interrupted() {
      return count > 0;
    },
    dispose() {
      clearTimeout(grace);
      process.removeListener('SIGINT', handler);
      process.removeListener('SIGTERM', handler);
    },
  };
}

export function isAbortError(error: unknown, signal?: AbortSignal): boolean {
  return (signal?.aborted ?? false) || (error instanceof Error && error.name === 'AbortError');
}
