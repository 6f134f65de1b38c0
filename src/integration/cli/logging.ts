/**
 * Logging per the config's `logging` block (the seed's keys):
 *
 * - console: `console.enabled`, `console.level` (default `level`), `console.simple` (message only,
 *   else `time - civitscraper - LEVEL - message`). `--debug` sets DEBUG, `--quiet` leaves errors only.
 * - file: `file.enabled`, `file.level` (default `level`; DEBUG with --debug), `file.directory`,
 *   `file.filename` (default `civitscraper.log`), `file.max_size` (MB) and `file.backup_count`.
 *   One file that every run appends to and that rotates by size (`civitscraper.log.1` … `.N`);
 *   the seed opened a new file per run, so it never rotated and logs piled up.
 *
 * Every sink is behind `redactingLogger`, so the API key never reaches the console or the file.
 */
import type { LoggingConfig } from '../engine/config/schema.ts';
import { fanOut, fullLine, leveled, openLogFile, simpleLine } from '../engine/util/log-file.ts';
import { normalizeLevel, redactingLogger, silentLogger, type Logger, type LogLevel } from '../engine/util/logger.ts';
import type { Terminal } from './terminal.ts';

export { DEFAULT_LOG_FILENAME, fanOut, RotatingFile, timestamp } from '../engine/util/log-file.ts';

export interface CliLogging {
  /** Console and file. */
  logger: Logger;
  /** The file only (silent without one): what the console shows another way (the live line). */
  fileLogger: Logger;
  /** The console shows messages and progress (not --quiet, not console.enabled: false). */
  consoleProgress: boolean;
  /** The log file, when enabled and writable. */
  filePath?: string;
  close(): void;
}

export interface LoggingFlags {
  debug: boolean;
  quiet: boolean;
}

export function setupLogging(
  config: LoggingConfig,
  flags: LoggingFlags,
  terminal: Terminal,
  secrets: readonly (string | undefined)[],
): CliLogging {
  const consoleLevel: LogLevel = flags.debug ? 'DEBUG' : flags.quiet ? 'ERROR' : normalizeLevel(config.console.level ?? config.level);
  const consoleOn = config.console.enabled || flags.debug;
  const format = config.console.simple ? simpleLine : fullLine;
  const consoleSink = consoleOn ? leveled(consoleLevel, (level, message) => terminal.line(format(level, message))) : silentLogger;

  const file = openLogFile(config, flags, (message) => terminal.line(simpleLine('WARNING', message)));
  const fileSink = file?.logger ?? silentLogger;
  const rotating = file?.rotating;
  return {
    logger: redactingLogger(fanOut(consoleSink, fileSink), secrets),
    fileLogger: redactingLogger(fileSink, secrets),
    consoleProgress: consoleOn && !flags.quiet,
    ...(rotating ? { filePath: rotating.file } : {}),
    close: () => rotating?.close(),
  };
}
