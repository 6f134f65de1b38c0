/**
 * The command line: `civitscraper [COMMAND] [options]`. The seed's flags work for every command;
 * a few belong to one command only (`--undo` to organize, `--loras-file` to sync-krita, `--out`
 * to build) and are refused elsewhere, so a typo never silently does something else.
 */
import { suggest } from '../engine/config/errors.ts';
import { parseArgs } from 'node:util';
import { UsageError } from './exit.ts';

export const COMMANDS = ['scan', 'organize', 'sync-krita', 'build', 'report', 'link', 'updates'] as const;
export type Command = (typeof COMMANDS)[number];

export interface CliArgs {
  command: Command;
  /** The command was named (not the default `scan`). */
  explicitCommand: boolean;
  config?: string;
  job?: string;
  allJobs: boolean;
  dryRun: boolean;
  forceRefresh: boolean;
  debug: boolean;
  report?: string;
  quiet: boolean;
  json: boolean;
  version: boolean;
  help: boolean;
  /** organize: `--undo [RUN]` (runId absent = the latest run that changed something). */
  undo?: { runId?: string };
  /** organize: `--list`, the journaled runs. */
  list: boolean;
  /** sync-krita: the Krita `loras.json` to update (instead of the job's `loras_file`). */
  lorasFile?: string;
  /** sync-krita: write even when Krita changed the file after it was read. */
  force: boolean;
  /** `scan --no-site`: the engine only, even when the config's HTML output is on. */
  noSite: boolean;
  /** `--unreadable warn`: files that cannot be read as models are reported but do not fail the run. */
  unreadable: 'fail' | 'warn';
  /** build: output folder of the site. */
  outDir?: string;
  /** build: Astro's cache folder. */
  astroCache?: string;
  /** `--offline`: no request at all (the archive of sources.archive_db and local data only). */
  offline: boolean;
  /** `--no-remote`: never send a hash anywhere (the archive identifies). */
  noRemote: boolean;
  /** link: FILE [VERSION]. */
  linkArgs: string[];
  /** link: `--remove FILE`. */
  remove: boolean;
  /** updates: `--ignore VERSION` (repeatable): never offer these versions as updates. */
  ignore: string[];
  /** updates: `--unignore VERSION` (repeatable). */
  unignore: string[];
  /** `--lock-wait SECONDS`: how long to wait for another run on the same cache (as CIVITSCRAPER_LOCK_WAIT). */
  lockWaitSeconds?: number;
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  job: { type: 'string', short: 'j' },
  'all-jobs': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  'force-refresh': { type: 'boolean' },
  debug: { type: 'boolean' },
  report: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  json: { type: 'boolean' },
  version: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
  undo: { type: 'boolean' },
  'no-site': { type: 'boolean' },
  unreadable: { type: 'string' },
  list: { type: 'boolean' },
  'loras-file': { type: 'string' },
  force: { type: 'boolean' },
  out: { type: 'string' },
  'astro-cache': { type: 'string' },
  offline: { type: 'boolean' },
  'no-remote': { type: 'boolean' },
  remove: { type: 'boolean' },
  ignore: { type: 'string', multiple: true },
  unignore: { type: 'string', multiple: true },
  'lock-wait': { type: 'string' },
} as const;

/** Options that only one command takes. */
const COMMAND_OPTIONS: Record<string, Command> = {
  undo: 'organize',
  list: 'organize',
  'no-site': 'scan',
  'loras-file': 'sync-krita',
  force: 'sync-krita',
  out: 'build',
  'astro-cache': 'build',
  remove: 'link',
  ignore: 'updates',
  unignore: 'updates',
};

/**
 * parseArgs' own text ("To specify a positional argument starting with a '-'…") helps nobody who
 * mistyped a flag: name the flag and the closest real one.
 */
function explainParseError(error: Error & { code?: string }, args: readonly string[]): string {
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'(-{1,2}[^']+)'/.exec(error.message)?.[1] ?? args.find((arg) => arg.startsWith('-')) ?? '';
    const name = flag.replace(/^-+/, '').split('=')[0] ?? '';
    const match = suggest(name, Object.keys(OPTIONS));
    return `unknown option ${flag}${match ? `, did you mean --${match}?` : ''} (civitscraper --help lists the options)`;
  }
  if (error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    // Node says "Option '-c, --config <value>' argument missing": the long name is the clear one.
    const quoted = /'([^']*)'/.exec(error.message)?.[1] ?? '';
    const flag = /--[\w-]+/.exec(quoted)?.[0] ?? /-\w/.exec(quoted)?.[0];
    return flag ? `option ${flag} needs a value (civitscraper --help lists the options)` : error.message;
  }
  return error.message;
}

export function isCommand(value: string): value is Command {
  return (COMMANDS as readonly string[]).includes(value);
}

export function parseCliArgs(argv: readonly string[]): CliArgs {
  // `--undo [RUN]` / `--undo=RUN`: parseArgs has no optional values, so the run id is taken here
  // (the word after --undo, unless it is an option or a command).
  const args: string[] = [];
  let undoRunId: string | undefined;
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index] as string;
    if (arg === '--') {
      args.push(...argv.slice(index));
      break;
    }
    if (arg.startsWith('--undo=')) {
      args.push('--undo');
      undoRunId = arg.slice('--undo='.length);
      continue;
    }
    args.push(arg);
    const next = argv[index + 1];
    if (arg === '--undo' && next !== undefined && !next.startsWith('-') && !isCommand(next)) {
      undoRunId = next;
      index += 1;
    }
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(explainParseError(error as Error & { code?: string }, args));
  }
  const { values, positionals } = parsed;
  const [first, ...rest] = positionals;
  let command: Command = 'scan';
  let explicitCommand = false;
  if (first !== undefined) {
    if (!isCommand(first)) {
      throw new UsageError(`Unknown command "${first}". Commands: ${COMMANDS.join(', ')} (default: scan).`);
    }
    command = first;
    explicitCommand = true;
  }
  for (const [option, owner] of Object.entries(COMMAND_OPTIONS)) {
    if (values[option as keyof typeof values] !== undefined && command !== owner) {
      throw new UsageError(`--${option} belongs to \`civitscraper ${owner}\`, not to \`${command}\`.`);
    }
  }
  if (command === 'link') {
    const wanted = values.remove ? 1 : 2;
    if (rest.length !== wanted) {
      throw new UsageError(
        values.remove ? 'usage: civitscraper link --remove FILE' : 'usage: civitscraper link FILE VERSION (a version id, a CivitAI URL with modelVersionId=, or an AIR)',
      );
    }
  } else if (rest.length > 0) {
    throw new UsageError(
      values.undo ? `--undo takes one run id at most, got also: ${rest.join(' ')}` : `Unexpected argument${rest.length > 1 ? 's' : ''}: ${rest.join(' ')}`,
    );
  }
  if (undoRunId !== undefined && undoRunId.trim() === '') throw new UsageError('--undo= needs a run id (or use --undo alone for the latest run).');
  const undo: CliArgs['undo'] = values.undo ? (undoRunId !== undefined ? { runId: undoRunId } : {}) : undefined;
  if (values.unreadable !== undefined && values.unreadable !== 'fail' && values.unreadable !== 'warn') {
    throw new UsageError(`--unreadable takes fail (the default: exit 1) or warn (report them, exit 0), not "${values.unreadable}".`);
  }
  const lockWait = values['lock-wait'];
  if (lockWait !== undefined && !(lockWait.trim() !== '' && Number.isFinite(Number(lockWait)) && Number(lockWait) >= 0)) {
    throw new UsageError(`--lock-wait takes the seconds to wait for another run on the same cache (0: do not wait), not "${lockWait}".`);
  }
  for (const option of ['config', 'job', 'report', 'loras-file', 'out', 'astro-cache'] as const) {
    const value = values[option];
    if (value !== undefined && value.trim() === '') throw new UsageError(`--${option} needs a value.`);
  }
  return {
    command,
    explicitCommand,
    ...(values.config !== undefined ? { config: values.config } : {}),
    ...(values.job !== undefined ? { job: values.job } : {}),
    allJobs: values['all-jobs'] ?? false,
    dryRun: values['dry-run'] ?? false,
    forceRefresh: values['force-refresh'] ?? false,
    debug: values.debug ?? false,
    ...(values.report !== undefined ? { report: values.report } : {}),
    quiet: values.quiet ?? false,
    json: values.json ?? false,
    version: values.version ?? false,
    help: values.help ?? false,
    ...(undo ? { undo } : {}),
    list: values.list ?? false,
    ...(values['loras-file'] !== undefined ? { lorasFile: values['loras-file'] } : {}),
    force: values.force ?? false,
    noSite: values['no-site'] ?? false,
    unreadable: values.unreadable === 'warn' ? 'warn' : 'fail',
    ...(values.out !== undefined ? { outDir: values.out } : {}),
    ...(values['astro-cache'] !== undefined ? { astroCache: values['astro-cache'] } : {}),
    offline: values.offline ?? false,
    noRemote: values['no-remote'] ?? false,
    linkArgs: command === 'link' ? rest : [],
    remove: values.remove ?? false,
    ignore: values.ignore ?? [],
    unignore: values.unignore ?? [],
    ...(lockWait !== undefined ? { lockWaitSeconds: Number(lockWait) } : {}),
  };
}
