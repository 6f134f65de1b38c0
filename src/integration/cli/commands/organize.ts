/**
 * `civitscraper organize [--undo [RUN] | --list]`: scan the job(s), then organize (plan table and
 * JSON with --dry-run; apply with a journal otherwise). `--undo` reverses RUN, or the latest
 * organize run that changed something; `--list` shows the journaled runs, newest first.
 */
import type { ScanJob } from '../../engine/config/index.ts';
import {
  latestUndoable,
  listRuns,
  noRunToUndo,
  OrganizeError,
  recoverIncompleteRuns,
  summarizeRuns,
  undoRun,
  type RunSummary,
} from '../../engine/organize/index.ts';
import type { CliContext } from '../context.ts';
import { withCacheLock } from '../../engine/state/index.ts';
import { EXIT, messageOf, UsageError } from '../exit.ts';
import { isAbortError } from '../interrupt.ts';
import { journalDir, runScanStep, type JobOutcome } from '../jobs.ts';
import { chooseJobs, jobsResult, runEachJob, type CommandResult } from './shared.ts';

export async function organizeCommand(ctx: CliContext): Promise<CommandResult> {
  if (ctx.args.list && ctx.args.undo) throw new UsageError('organize: --list and --undo do not go together (list first, then undo a run by its id)');
  if (ctx.args.list) return listCommand(ctx);
  if (ctx.args.undo) return undoCommand(ctx, ctx.args.undo.runId);
  const selected = chooseJobs(ctx);
  const named = ctx.args.job !== undefined;
  const jobs = selected.filter((entry): entry is { name: string; job: ScanJob } => entry.job.type === 'scan-paths');
  if (jobs.length === 0) {
    throw new UsageError(
      named
        ? `job "${ctx.args.job}" is a ${selected[0]?.job.type} job; organize needs a scan-paths job`
        : 'no scan-paths job to organize; name one with --job',
    );
  }
  const ran = await runEachJob(ctx, jobs, (name, job) => {
    ctx.logger.info(`job "${name}": organize (${job.organization.operation_mode ?? 'copy'}, ${job.organization.template})`);
    return runScanStep(ctx, name, job, { organize: 'always', ...(jobs.length > 1 ? { label: name } : {}) });
  });
  return jobsResult(ctx, ran);
}

async function undoCommand(ctx: CliContext, runId: string | undefined): Promise<CommandResult> {
  const dir = journalDir(ctx);
  const { logger } = ctx;
  const base = { command: 'organize', undo: true, journalDir: dir };
  try {
    if (ctx.dryRun) {
      const runs = await listRuns(dir);
      const target = runId !== undefined ? runs.find((run) => run.runId === runId && run.begin.kind === 'organize') : latestUndoable(runs);
      if (!target) throw new OrganizeError('NO_RUN', runId !== undefined ? `no organize run ${runId} in ${dir}` : noRunToUndo(runs, dir));
      const operations = target.ops.filter((state) => state.done && !state.reverted).length;
      ctx.out(`dry run: would undo organize run ${target.runId} (${target.begin.mode ?? '?'}, ${operations} operations, started ${target.begin.startedAt})\n`);
      return { exitCode: EXIT.ok, json: { ...base, dryRun: true, exitCode: EXIT.ok, runId: target.runId, operations } };
    }
    // Undoing moves files back: one run at a time on the cache, as a scan (it waits, then refuses).
    let result;
    try {
      result = await withCacheLock(ctx.config.scanner.cache_dir, { logger, signal: ctx.interrupt.signal, job: 'organize --undo' }, async () => {
        const recovery = await recoverIncompleteRuns(dir, { logger });
        for (const run of recovery.runs) logger.warn(`organize: an earlier ${run.kind} run ${run.runId} was interrupted: ${run.action}`);
        return undoRun({ journalDir: dir, logger, ...(runId !== undefined ? { runId } : {}) });
      });
    } catch (error) {
      if (!isAbortError(error, ctx.interrupt.signal)) throw error;
      return { exitCode: EXIT.interrupted, json: { ...base, exitCode: EXIT.interrupted, interrupted: true } };
    }
    for (const problem of result.problems) logger.error(`organize undo: ${problem}`);
    const exitCode = result.problems.length > 0 ? EXIT.filesFailed : EXIT.ok;
    logger.info(`organize: undid run ${result.undoneRunId}: ${result.reversed} operations reversed${result.problems.length ? `, ${result.problems.length} problems` : ''}`);
    if (!ctx.args.json && !ctx.args.quiet) ctx.out(`undid organize run ${result.undoneRunId} (${result.reversed} operations reversed)\n`);
    return {
      exitCode,
      json: { ...base, exitCode, runId: result.runId, undoneRunId: result.undoneRunId, reversed: result.reversed, problems: result.problems },
    };
  } catch (error) {
    if (error instanceof OrganizeError && (error.code === 'NO_RUN' || error.code === 'UNDONE' || error.code === 'INCOMPLETE')) {
      throw new UsageError(`organize --undo: ${error.message}`);
    }
    logger.error(`organize --undo: ${messageOf(error)}`);
    return { exitCode: EXIT.filesFailed, json: { ...base, exitCode: EXIT.filesFailed, error: messageOf(error) } };
  }
}

/** `organize --list`: the journaled runs, newest first, on stdout (`--json`: as JSON). */
async function listCommand(ctx: CliContext): Promise<CommandResult> {
  const dir = journalDir(ctx);
  const runs = await summarizeRuns(dir);
  if (!ctx.args.json) ctx.out(formatRunList(runs, dir));
  return { exitCode: EXIT.ok, json: { command: 'organize', list: true, journalDir: dir, exitCode: EXIT.ok, runs } };
}

/** One line per run: id, start (UTC), kind and mode, models moved/copied/linked/failed, undone or not. */
export function formatRunList(runs: readonly RunSummary[], dir: string): string {
  if (runs.length === 0) return `no organize runs in ${dir}\n`;
  const rows = runs.map((run) => {
    const undo = run.kind === 'undo';
    const count = (value: number) => (undo ? '-' : String(value));
    const state = undo
      ? `undid ${run.undoOf ?? '?'} (${run.reversed ?? 0} operations)`
      : run.state !== 'committed'
        ? run.state
        : run.undone
          ? `undone by ${run.undoneBy}`
          : '';
    return [
      run.runId,
      run.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      undo ? 'undo' : `organize (${run.mode ?? '?'})`,
      count(run.counts.moved),
      count(run.counts.copied),
      count(run.counts.linked),
      count(run.counts.failed),
      state,
    ];
  });
  const header = ['RUN', 'STARTED', 'KIND', 'MOVED', 'COPIED', 'LINKED', 'FAILED', 'STATE'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

export type { JobOutcome };
