/**
 * What `main()` writes to the console, for tests that run the CLI in their own process: stdout
 * and stderr are captured (and kept off the test output) until `vi.restoreAllMocks()`.
 */
import { vi } from 'vitest';

/** Cleared by assigning '' (to look at what a next step writes). */
export interface CapturedConsole {
  stdout: string;
  stderr: string;
}

export function captureConsole(): CapturedConsole {
  const captured = { stdout: '', stderr: '' };
  for (const name of ['stdout', 'stderr'] as const) {
    vi.spyOn(process[name], 'write').mockImplementation((chunk: string | Uint8Array) => {
      captured[name] += String(chunk);
      return true;
    });
  }
  return captured;
}
