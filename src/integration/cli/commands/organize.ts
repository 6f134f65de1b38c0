/**
 * `civitscraper organize [--undo [RUN]]`: scan the job(s), then organize (plan table and JSON
 * with --dry-run; apply with a journal otherwise). `--undo` reverses the latest run or RUN.
 */
import type { ScanJob } from '../../engine/config/index.ts';
import { listRuns, OrganizeError, recoverIncompleteRuns, undoRun } from '../../engine/organize/index.ts';
import type { CliContext } from '../context.ts';
import { EXIT, messageOf, UsageError } from '../exit.ts';
import { journalDir, runScanStep, type JobOutcome } from '../jobs.ts';
import { chooseJobs, jobsResult, runEachJob, type CommandResult } from './shared.ts';

export async function organizeCommand(ctx: CliContext): Promise<CommandResult> {
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
      const undone = new Set(runs.filter((run) => run.begin.kind === 'undo' && run.committed).map((run) => run.begin.undoOf));
      const target =
        runId !== undefined
          ? runs.find((run) => run.runId === runId && run.begin.kind === 'organize')
          : runs.filter((run) => run.begin.kind === 'organize' && run.committed && !undone.has(run.runId)).at(-1);
      if (!target) throw new OrganizeError('NO_RUN', runId !== undefined ? `no organize run ${runId} in ${dir}` : `no organize run to undo in ${dir}`);
      const operations = target.ops.filter((state) => state.done && !state.reverted).length;
      ctx.out(`dry run: would undo organize run ${target.runId} (${target.begin.mode ?? '?'}, ${operations} operations, started ${target.begin.startedAt})\n`);
      return { exitCode: EXIT.ok, json: { ...base, dryRun: true, exitCode: EXIT.ok, runId: target.runId, operations } };
    }
    const recovery = await recoverIncompleteRuns(dir, { logger });
    for (const run of recovery.runs) logger.warn(`organize: an earlier ${run.kind} run ${run.runId} was interrupted: ${run.action}`);
    const result = await undoRun({ journalDir: dir, logger, ...(runId !== undefined ? { runId } : {}) });
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

export type { JobOutcome };
