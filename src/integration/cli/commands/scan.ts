/** `civitscraper [scan]`: every selected job, in order, on the engine. */
import type { SelectedJob } from '../../engine/config/index.ts';
import type { CliContext } from '../context.ts';
import { runScanStep, runSyncStep, type JobOutcome } from '../jobs.ts';
import { chooseJobs, jobsResult, runEachJob, type CommandResult } from './shared.ts';

export async function runJobs(ctx: CliContext, jobs: readonly SelectedJob[]): Promise<{ outcomes: JobOutcome[]; notRun: string[] }> {
  const label = jobs.length > 1;
  return runEachJob(ctx, jobs, async (name, job) => {
    ctx.logger.info(`job "${name}" (${job.type})${job.description ? `: ${job.description}` : ''}`);
    return job.type === 'scan-paths'
      ? runScanStep(ctx, name, job, { organize: 'job', ...(label ? { label: name } : {}) })
      : runSyncStep(ctx, name, job);
  });
}

export async function scanCommand(ctx: CliContext): Promise<CommandResult> {
  return jobsResult(ctx, await runJobs(ctx, chooseJobs(ctx)));
}
