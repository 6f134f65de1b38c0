/**
 * `civitscraper sync-krita`: the sync-lora-triggers job(s) (the named one, or all of them), or,
 * without any in the config, one over every input path into --loras-file (or Krita's own file).
 */
import { SyncLoraTriggersJobSchema, type SyncLoraTriggersJob } from '../../engine/config/index.ts';
import type { CliContext } from '../context.ts';
import { UsageError } from '../exit.ts';
import { runSyncStep } from '../jobs.ts';
import { chooseJobs, jobsResult, runEachJob, type CommandResult } from './shared.ts';

export async function syncKritaCommand(ctx: CliContext): Promise<CommandResult> {
  let jobs: Array<{ name: string; job: SyncLoraTriggersJob }>;
  if (ctx.args.job !== undefined) {
    const [selected] = chooseJobs(ctx);
    if (!selected || selected.job.type !== 'sync-lora-triggers') {
      throw new UsageError(`job "${ctx.args.job}" is a ${selected?.job.type} job; sync-krita runs sync-lora-triggers jobs`);
    }
    jobs = [{ name: selected.name, job: selected.job }];
  } else {
    jobs = Object.entries(ctx.config.jobs).flatMap(([name, job]) => (job.type === 'sync-lora-triggers' ? [{ name, job }] : []));
    if (jobs.length === 0) jobs = [{ name: 'sync-krita', job: SyncLoraTriggersJobSchema.parse({ type: 'sync-lora-triggers' }) }];
  }
  if (ctx.args.lorasFile !== undefined && jobs.length > 1) {
    throw new UsageError(`--loras-file with ${jobs.length} sync-lora-triggers jobs: name one with --job (${jobs.map((entry) => entry.name).join(', ')})`);
  }
  const ran = await runEachJob(ctx, jobs, (name, job) =>
    runSyncStep(ctx, name, job, ctx.args.lorasFile !== undefined ? { lorasFile: ctx.args.lorasFile } : {}),
  );
  return jobsResult(ctx, ran);
}
