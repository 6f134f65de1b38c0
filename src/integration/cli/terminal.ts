/**
 * The console (stderr): log lines, and on a TTY one live line that is redrawn in place. A log
 * line printed while a live line is shown goes above it; the live line is drawn again below.
 */

const CLEAR_LINE = '\r\x1b[2K';

export interface Terminal {
  /** True when a live line can be drawn (a TTY that is not TERM=dumb). */
  readonly live: boolean;
  /** Prints a whole line (a log message). */
  line(text: string): void;
  /** Replaces the live line (TTY only; ignored otherwise). */
  setLive(text: string): void;
  /** Prints `text` in place of the live line, for good, and ends it. */
  endLive(text: string): void;
  /** Removes the live line, if any (before exiting). */
  clearLive(): void;
}

export function isLiveTerminal(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export function createTerminal(stream: NodeJS.WriteStream = process.stderr, live = isLiveTerminal(stream)): Terminal {
  let current: string | undefined;
  const fit = (text: string) => {
    const width = (stream.columns ?? 0) > 0 ? (stream.columns as number) - 1 : 119;
    const chars = [...text];
    return chars.length > width ? `${chars.slice(0, Math.max(1, width - 1)).join('')}…` : text;
  };
  return {
    live,
    line(text) {
      if (live && current !== undefined) stream.write(`${CLEAR_LINE}${text}\n${fit(current)}`);
      else stream.write(`${text}\n`);
    },
    setLive(text) {
      if (!live) return;
      current = text;
      stream.write(`${CLEAR_LINE}${fit(text)}`);
    },
    endLive(text) {
      if (live) {
        stream.write(`${CLEAR_LINE}${fit(text)}\n`);
        current = undefined;
      } else {
        stream.write(`${text}\n`);
      }
    },
    clearLive() {
      if (live && current !== undefined) stream.write(CLEAR_LINE);
      current = undefined;
    },
  };
}
