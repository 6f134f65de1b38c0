/** `civitscraper [scan]`: every selected job, in order, on the engine. */
import type { SelectedJob } from '../../integration/config/index.ts';
import type { CliContext } from '../context.ts';
import { runScanStep, runSyncStep, type JobOutcome } from '../jobs.ts';
import { chooseJobs, exitCodeFor, runJson, type CommandResult } from './shared.ts';

export async function runJobs(ctx: CliContext, jobs: readonly SelectedJob[]): Promise<{ outcomes: JobOutcome[]; notRun: string[] }> {
  const outcomes: JobOutcome[] = [];
  const notRun: string[] = [];
  const label = jobs.length > 1;
  for (const { name, job } of jobs) {
    if (ctx.interrupt.signal.aborted) {
      notRun.push(name);
      continue;
    }
    ctx.logger.info(`job "${name}" (${job.type})${job.description ? `: ${job.description}` : ''}`);
    outcomes.push(
      job.type === 'scan-paths'
        ? await runScanStep(ctx, name, job, { organize: 'job', ...(label ? { label: name } : {}) })
        : await runSyncStep(ctx, name, job),
    );
  }
  return { outcomes, notRun };
}

export async function scanCommand(ctx: CliContext): Promise<CommandResult> {
  const { outcomes, notRun } = await runJobs(ctx, chooseJobs(ctx));
  const exitCode = exitCodeFor(outcomes, ctx.interrupt.interrupted);
  return { exitCode, json: runJson(ctx, outcomes, exitCode, notRun) };
}
