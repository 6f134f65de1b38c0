/** What the commands share: job selection, the exit code, the report JSON. */
import { selectJobs, type SelectedJob } from '../../integration/config/index.ts';
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

export function exitCodeFor(outcomes: readonly JobOutcome[], interrupted: boolean): number {
  if (interrupted || outcomes.some((outcome) => outcome.interrupted)) return EXIT.interrupted;
  if (outcomes.length > 0 && outcomes.every((outcome) => outcome.usageError)) return EXIT.usage;
  return outcomes.some(jobFailed) ? EXIT.filesFailed : EXIT.ok;
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
