/**
 * Ctrl-C: the first SIGINT (or SIGTERM) aborts the run through an AbortSignal; the engine stops
 * between files, keeps what finished (the hash ledger, written sidecars), and the CLI writes the
 * report and exits 130. A second Ctrl-C exits at once (still 130).
 */
import { EXIT } from './exit.ts';

export interface Interrupt {
  readonly signal: AbortSignal;
  readonly interrupted: boolean;
  dispose(): void;
}

export function handleInterrupts(onFirst: (signal: NodeJS.Signals) => void): Interrupt {
  const controller = new AbortController();
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count += 1;
    if (count === 1) {
      controller.abort(Object.assign(new Error(`interrupted (${signal})`), { name: 'AbortError' }));
      onFirst(signal);
      return;
    }
    process.stderr.write('\ninterrupted again: exiting now\n');
    process.exit(EXIT.interrupted);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    get interrupted() {
      return count > 0;
    },
    dispose() {
      process.removeListener('SIGINT', handler);
      process.removeListener('SIGTERM', handler);
    },
  };
}

export function isAbortError(error: unknown, signal?: AbortSignal): boolean {
  return (signal?.aborted ?? false) || (error instanceof Error && error.name === 'AbortError');
}
