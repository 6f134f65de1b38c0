/**
 * The config's `logging.file`: one file that every run appends to and that rotates by size
 * (`civitscraper.log.1` … `.N`). Shared by the CLI and the Astro integration, so a build logs
 * where the seed's users look.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { LoggingConfig } from '../config/schema.ts';
import { LOG_LEVEL_ORDER, normalizeLevel, type Logger, type LogLevel } from './logger.ts';

export const DEFAULT_LOG_FILENAME = 'civitscraper.log';

/** `2026-08-22 10:15:30,123` (local time, as Python's logging prints it). */
export function timestamp(date = new Date()): string {
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())},${pad(date.getMilliseconds(), 3)}`;
}

export function fullLine(level: LogLevel, message: string): string {
  return `${timestamp()} - civitscraper - ${level} - ${message}`;
}

export function simpleLine(level: LogLevel, message: string): string {
  return level === 'INFO' ? message : `${level.toLowerCase()}: ${message}`;
}

export function leveled(threshold: LogLevel, emit: (level: LogLevel, message: string) => void): Logger {
  const min = LOG_LEVEL_ORDER[threshold];
  const at = (level: LogLevel) => (message: string) => {
    if (LOG_LEVEL_ORDER[level] >= min) emit(level, message);
  };
  return { debug: at('DEBUG'), info: at('INFO'), warn: at('WARNING'), error: at('ERROR') };
}

export function fanOut(...loggers: Logger[]): Logger {
  return {
    debug: (message) => loggers.forEach((logger) => logger.debug(message)),
    info: (message) => loggers.forEach((logger) => logger.info(message)),
    warn: (message) => loggers.forEach((logger) => logger.warn(message)),
    error: (message) => loggers.forEach((logger) => logger.error(message)),
  };
}

/**
 * A log file that rotates by size: when a line would take it past `maxBytes`, `file.N-1` → `file.N`
 * … `file` → `file.1` (the oldest beyond `backups` is deleted) and a new `file` starts. Writes are
 * synchronous appends, so what was logged before a crash or a kill is on disk.
 */
export class RotatingFile {
  readonly file: string;
  private readonly maxBytes: number;
  private readonly backups: number;
  private fd: number | undefined;
  private size = 0;

  constructor(file: string, maxBytes: number, backups: number) {
    this.file = file;
    this.maxBytes = Math.max(1, Math.floor(maxBytes));
    this.backups = Math.max(0, Math.floor(backups));
    mkdirSync(path.dirname(file), { recursive: true });
    this.open();
  }

  private open(): void {
    this.fd = openSync(this.file, 'a');
    try {
      this.size = statSync(this.file).size;
    } catch {
      this.size = 0;
    }
  }

  private rotate(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    if (this.backups === 0) {
      rmSync(this.file, { force: true });
    } else {
      rmSync(`${this.file}.${this.backups}`, { force: true });
      for (let index = this.backups - 1; index >= 1; index -= 1) {
        try {
          renameSync(`${this.file}.${index}`, `${this.file}.${index + 1}`);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
      renameSync(this.file, `${this.file}.1`);
    }
    this.open();
  }

  write(line: string): void {
    const bytes = Buffer.from(`${line}\n`, 'utf8');
    if (this.size > 0 && this.size + bytes.length > this.maxBytes) this.rotate();
    if (this.fd === undefined) return;
    writeSync(this.fd, bytes);
    this.size += bytes.length;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export interface LogFile {
  logger: Logger;
  rotating: RotatingFile;
}

/**
 * The log file of `logging.file`, or undefined when it is off or cannot be opened (`warn` says
 * why; a broken log file never stops a run).
 */
export function openLogFile(config: LoggingConfig, flags: { debug: boolean }, warn: (message: string) => void): LogFile | undefined {
  if (!config.file.enabled) return undefined;
  const file = path.resolve(config.file.directory, config.file.filename ?? DEFAULT_LOG_FILENAME);
  let rotating: RotatingFile;
  try {
    rotating = new RotatingFile(file, config.file.max_size * 1024 * 1024, config.file.backup_count);
  } catch (error) {
    warn(`cannot open the log file ${file}: ${(error as Error).message}; logging to the console only`);
    return undefined;
  }
  const fileLevel = normalizeLevel(config.file.level ?? (flags.debug ? 'DEBUG' : config.level));
  let broken = false;
  const logger = leveled(fileLevel, (level, message) => {
    if (broken) return;
    try {
      rotating.write(fullLine(level, message));
    } catch (error) {
      broken = true;
      warn(`cannot write the log file ${file} any more: ${(error as Error).message}`);
    }
  });
  return { logger, rotating };
}
