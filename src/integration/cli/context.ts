/** What every command gets: parsed arguments, the loaded config, logging, progress, Ctrl-C. */
import type { Config, LoadedConfig } from '../engine/config/index.ts';
import type { Logger } from '../engine/util/logger.ts';
import type { CliArgs } from './args.ts';
import type { Interrupt } from './interrupt.ts';
import type { CliLogging } from './logging.ts';
import { createProgress, type ProgressRenderer } from './progress.ts';
import type { Terminal } from './terminal.ts';

export interface CliContext {
  args: CliArgs;
  loaded: LoadedConfig;
  config: Config;
  logging: CliLogging;
  logger: Logger;
  terminal: Terminal;
  interrupt: Interrupt;
  /** Dry run from the flag or the config's `dry_run`. */
  dryRun: boolean;
  /** A progress renderer for one job (`label` when several jobs run). */
  progress(label?: string): ProgressRenderer;
  /** Output for people or programs (tables, --json): stdout. */
  out(text: string): void;
}

export function createContext(parts: Omit<CliContext, 'progress' | 'out' | 'dryRun' | 'config'>): CliContext {
  const { logging, terminal } = parts;
  return {
    ...parts,
    config: parts.loaded.config,
    dryRun: parts.args.dryRun || parts.loaded.config.dry_run,
    progress: (label) =>
      createProgress({
        terminal,
        logger: logging.logger,
        fileLogger: logging.fileLogger,
        console: logging.consoleProgress,
        ...(label ? { label } : {}),
      }),
    out: (text) => {
      terminal.clearLive();
      process.stdout.write(text);
    },
  };
}
