/** `civitscraper [scan]`: every selected job, in order, on the engine. */
import type { SelectedJob } from '../../engine/config/index.ts';
import type { CliContext } from '../context.ts';
import { runScanStep, runSyncStep, type JobOutcome } from '../jobs.ts';
import { chooseJobs, jobsResult, runEachJob, type CommandResult } from './shared.ts';

export async function runJobs(ctx: CliContext, jobs: readonly SelectedJob[]): Promise<{ outcomes: JobOutcome[]; notRun: string[] }> {
  const label = jobs.length > 1;
  return runEachJob(ctx, jobs, async (name, job) => {
    ctx.logger.info(`job "${name}" (${job.type})${job.description ? `: ${job.description}` : ''}`);
    if (job.type !== 'scan-paths') return runSyncStep(ctx, name, job);
    const outcome = await runScanStep(ctx, name, job, { organize: 'job', ...(label ? { label: name } : {}) });
    summarizeFiles(ctx, outcome, label ? `[${name}] ` : '');
    return outcome;
  });
}

export async function scanCommand(ctx: CliContext): Promise<CommandResult> {
  // --no-site and dry runs never build the site: the site's modules are not even loaded.
  const sites = ctx.args.noSite || ctx.dryRun ? undefined : await import('./site-step.ts');
  const buildsSite = sites?.scanBuildsSite(ctx) ?? false;
  if (buildsSite) sites?.checkSiteCuration(ctx);
  const ran = await runJobs(ctx, chooseJobs(ctx));
  const result = jobsResult(ctx, ran);
  if (!sites || !buildsSite) return result;
  const { exitCode, site } = await sites.siteStep(ctx, result.exitCode, {});
  return { exitCode, json: { ...result.json, exitCode, site } };
}

/**
 * What the job did about the files beside the models, on the console: what it repaired and
 * swept (the engine's own lines for these are debug-level under the progress display), and,
 * when sidecars or previews could not be written, that the run is not complete.
 */
function summarizeFiles(ctx: CliContext, outcome: JobOutcome, prefix: string): void {
  const report = outcome.report;
  if (!report || report.dryRun) return;
  const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
  const sidecars = report.sidecars.repaired;
  const images = report.images.repaired;
  if (sidecars + images > 0) {
    const parts = [sidecars > 0 ? `${sidecars} sidecar/compat` : '', images > 0 ? `${images} preview` : ''].filter(Boolean).join(', ');
    ctx.logger.info(`${prefix}repaired ${plural(sidecars + images, 'missing/empty file')} (${parts})`);
  }
  const swept = report.sidecars.tempFilesRemoved;
  if (swept > 0) ctx.logger.info(`${prefix}removed ${plural(swept, 'temp file')} left by an interrupted run`);
  const unwritten = new Set(report.errors.filter((entry) => entry.stage === 'sidecars' || entry.stage === 'images').map((entry) => entry.path));
  if (unwritten.size > 0) {
    ctx.logger.error(
      `${prefix}${plural(unwritten.size, 'model')}: sidecars or previews could not be written (listed above), so the run is not complete (exit code 1); files that were good are unchanged, and the next run writes what is missing`,
    );
  }
}
