/**
 * The headless command line: the same engine as the Astro loader, without building the site
 * (except `build`). `civitscraper [scan|organize|sync-krita|build|report|link|updates] [options]`.
 *
 * Exit codes: 0 done, 1 some files failed (listed in the report), 2 bad config or arguments,
 * 130 interrupted (what finished is kept; a rerun continues).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from '../engine/config/index.ts';
import { toJsonText, writeFileAtomic } from '../engine/util/atomic-write.ts';
import { parseCliArgs, type CliArgs, type Command } from './args.ts';
import type { CommandResult } from './commands/shared.ts';
import { createContext, type CliContext } from './context.ts';
import { EXIT, messageOf, UsageError } from './exit.ts';
import { helpFor } from './help.ts';
import { graceFromEnv, handleInterrupts } from './interrupt.ts';
import { setupLogging } from './logging.ts';
import { createTerminal } from './terminal.ts';

export { EXIT } from './exit.ts';

/** Loaded on demand: `--help` and `--version` answer without loading the engine. */
const COMMAND_RUNNERS: Record<Command, () => Promise<(ctx: CliContext) => Promise<CommandResult>>> = {
  scan: async () => (await import('./commands/scan.ts')).scanCommand,
  organize: async () => (await import('./commands/organize.ts')).organizeCommand,
  'sync-krita': async () => (await import('./commands/sync-krita.ts')).syncKritaCommand,
  build: async () => (await import('./commands/build.ts')).buildCommand,
  report: async () => (await import('./commands/report.ts')).reportCommand,
  link: async () => (await import('./commands/link.ts')).linkCommand,
  updates: async () => (await import('./commands/updates.ts')).updatesCommand,
};

export async function main(argv: string[]): Promise<number> {
  ignoreClosedPipes();
  let args: CliArgs;
  try {
    args = parseCliArgs(argv);
  } catch (error) {
    process.stderr.write(`civitscraper: ${messageOf(error)}\nRun \`civitscraper --help\` for the commands and options.\n`);
    return EXIT.usage;
  }
  if (args.help) {
    process.stdout.write(helpFor(args.explicitCommand ? args.command : undefined));
    return EXIT.ok;
  }
  if (args.version) {
    process.stdout.write(`${readVersion()}\n`);
    return EXIT.ok;
  }

  const { ConfigError, loadConfig } = await import('../engine/config/index.ts');
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfig({ ...(args.config !== undefined ? { configPath: args.config } : {}) });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return EXIT.usage;
    }
    throw error;
  }

  // --offline wins over --no-remote (it sends nothing at all).
  if (args.offline) loaded.config.sources.network = 'offline';
  else if (args.noRemote) loaded.config.sources.network = 'no-remote';
  // --lock-wait is the environment variable's setting for this command (and any child it starts).
  if (args.lockWaitSeconds !== undefined) process.env[(await import('../engine/state/lock.ts')).LOCK_WAIT_ENV] = String(args.lockWaitSeconds);

  const terminal = createTerminal(process.stderr);
  const logging = setupLogging(loaded.config.logging, args, terminal, [loaded.config.api.key]);
  const { logger } = logging;
  const graceMs = graceFromEnv();
  const interrupt = handleInterrupts(
    (signal) => {
      logger.warn(
        `${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping after the files in flight and saving what finished ` +
          `(requests still running in ${graceMs / 1000} s are cancelled; press Ctrl-C again to cancel them now)`,
      );
    },
    {
      graceMs,
      onCancel: (why) => {
        logger.warn(
          `${why === 'grace' ? 'still running' : 'interrupted again'}: cancelling the requests in flight and saving what finished (press Ctrl-C again to quit at once)`,
        );
      },
    },
  );
  const ctx = createContext({ args, loaded, logging, logger, terminal, interrupt });
  try {
    for (const warning of loaded.warnings) logger.warn(warning);
    logger.info(`civitscraper ${readVersion()} ${args.command}${ctx.dryRun ? ' (dry run)' : ''}: config ${loaded.file}`);
    if (logging.filePath) logger.debug(`log file: ${logging.filePath}`);

    let result: CommandResult;
    // Safety net: if the work in progress can never finish (a promise nobody settles), Node would
    // exit with 13; say so and keep the meaningful exit code instead.
    const stalled = () => {
      logger.error('internal error: the run stopped without finishing its work (please report this with --debug output)');
      process.exitCode = ctx.interrupt.interrupted ? EXIT.interrupted : EXIT.filesFailed;
    };
    process.once('beforeExit', stalled);
    try {
      const run = await COMMAND_RUNNERS[args.command]();
      // Every CivitAI client the command creates is cancelled by the interrupt's request signal.
      const { withRequestSignal } = await import('../engine/civitai/http.ts');
      result = await withRequestSignal(interrupt.requestSignal, () => run(ctx));
    } catch (error) {
      if (error instanceof UsageError || error instanceof ConfigError) {
        terminal.clearLive();
        logger.error(error.message);
        return EXIT.usage;
      }
      // A bug or an environment problem nobody planned for: say what, keep the stack for --debug.
      logger.error(`unexpected error: ${messageOf(error)}${args.debug ? '' : ' (run with --debug for details)'}`);
      logger.debug(error instanceof Error && error.stack ? error.stack : String(error));
      return ctx.interrupt.interrupted ? EXIT.interrupted : EXIT.filesFailed;
    } finally {
      process.removeListener('beforeExit', stalled);
    }

    let { exitCode } = result;
    if (args.report) {
      try {
        await writeFileAtomic(path.resolve(args.report), toJsonText(result.json), { skipIfUnchanged: false });
        logger.debug(`report written to ${path.resolve(args.report)}`);
      } catch (error) {
        logger.error(`cannot write the report to ${args.report}: ${messageOf(error)}`);
        if (exitCode === EXIT.ok) exitCode = EXIT.filesFailed;
      }
    }
    if (args.json) ctx.out(toJsonText(result.json));
    if (exitCode === EXIT.interrupted) {
      logger.warn('interrupted: what finished is saved; run the same command again to continue');
    } else if (exitCode === EXIT.filesFailed) {
      logger.warn(`finished with failures (exit 1)${args.report ? `; see ${args.report}` : ''}`);
    }
    return exitCode;
  } finally {
    terminal.clearLive();
    interrupt.dispose();
    logging.close();
  }
}

/** `civitscraper --json | head` must not crash when the reader goes away. */
function ignoreClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
}

function readVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
