/** What the commands share: job selection, the exit code, the report JSON. */
import { selectJobs, type SelectedJob } from '../../engine/config/index.ts';
import type { CliContext } from '../context.ts';
import { EXIT } from '../exit.ts';
import { jobFailed, outcomeToJson, type JobOutcome } from '../jobs.ts';

export interface CommandResult {
  exitCode: number;
  /** What --report writes and --json prints. */
  json: Record<string, unknown>;
}

/** `--job` > `--all-jobs` > `default_job` > the only job (ConfigError otherwise: exit 2). */
export function chooseJobs(ctx: CliContext): SelectedJob[] {
  return selectJobs(ctx.config, {
    ...(ctx.args.job !== undefined ? { job: ctx.args.job } : {}),
    ...(ctx.args.allJobs ? { allJobs: true } : {}),
  });
}

/**
 * Runs `step` for each job in order; after Ctrl-C the jobs not started yet are listed as not run
 * (the one in flight stops and keeps what finished).
 */
export async function runEachJob<J>(
  ctx: CliContext,
  jobs: readonly { name: string; job: J }[],
  step: (name: string, job: J) => Promise<JobOutcome>,
): Promise<{ outcomes: JobOutcome[]; notRun: string[] }> {
  const outcomes: JobOutcome[] = [];
  const notRun: string[] = [];
  for (const { name, job } of jobs) {
    if (ctx.interrupt.signal.aborted) notRun.push(name);
    else outcomes.push(await step(name, job));
  }
  return { outcomes, notRun };
}

/** The command's result after `runEachJob`: exit code and report JSON. */
export function jobsResult(ctx: CliContext, { outcomes, notRun }: { outcomes: JobOutcome[]; notRun: string[] }): CommandResult {
  const exitCode = exitCodeFor(ctx, outcomes);
  return { exitCode, json: runJson(ctx, outcomes, exitCode, notRun) };
}

export function exitCodeFor(ctx: CliContext, outcomes: readonly JobOutcome[]): number {
  if (ctx.interrupt.interrupted || outcomes.some((outcome) => outcome.interrupted)) return EXIT.interrupted;
  if (outcomes.length > 0 && outcomes.every((outcome) => outcome.usageError)) return EXIT.usage;
  return outcomes.some((outcome) => jobFailed(outcome, ctx.args.unreadable)) ? EXIT.filesFailed : EXIT.ok;
}

/**
 * One job selected: its report's fields at the top level (what scripts of the walking skeleton read);
 * several: `{ jobs: [...] }`. Both say which command ran and how it ended.
 */
export function runJson(ctx: CliContext, outcomes: readonly JobOutcome[], exitCode: number, skipped: string[] = []): Record<string, unknown> {
  const head = {
    command: ctx.args.command,
    exitCode,
    ...(exitCode === EXIT.interrupted ? { interrupted: true } : {}),
    ...(skipped.length > 0 ? { notRun: skipped } : {}),
  };
  if (outcomes.length === 1 && skipped.length === 0) return { ...outcomeToJson(outcomes[0] as JobOutcome), ...head };
  return { ...head, jobs: outcomes.map(outcomeToJson) };
}
