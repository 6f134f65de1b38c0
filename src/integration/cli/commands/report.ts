/**
 * `civitscraper report`: the library report, offline. The engine runs in dry-run mode with a
 * client that refuses every request, over the sidecars and the hash ledger. The cache lock is
 * held from the first job to the last read, so a scan or organize run elsewhere cannot change
 * the library between the records and the checks made on them (sidecars, updates.json).
 */
import path from 'node:path';
import type { ScanJob } from '../../engine/config/index.ts';
import { resolveOutputRoot } from '../../engine/organize/index.ts';
import type { ModelRecord } from '../../engine/records/schema.ts';
import type { CliContext } from '../context.ts';
import { CacheLockedError, withCacheLock } from '../../engine/state/index.ts';
import { EXIT, UsageError } from '../exit.ts';
import { isAbortError } from '../interrupt.ts';
import { runScanStep, type JobOutcome } from '../jobs.ts';
import { buildLibraryReport, formatLibraryReport } from '../library-report.ts';
import { createOfflineClient } from '../../engine/civitai/client.ts';
import { chooseJobs, exitCodeFor, runJson, type CommandResult } from './shared.ts';

export async function reportCommand(ctx: CliContext): Promise<CommandResult> {
  const selected = chooseJobs(ctx);
  let jobs = selected.filter((entry): entry is { name: string; job: ScanJob } => entry.job.type === 'scan-paths');
  if (jobs.length === 0 && ctx.args.job === undefined) {
    // A sync job as the default: report on every scan job instead.
    jobs = Object.entries(ctx.config.jobs).flatMap(([name, job]) => (job.type === 'scan-paths' ? [{ name, job }] : []));
  }
  if (jobs.length === 0) throw new UsageError(`job "${ctx.args.job}" is not a scan-paths job; the report needs one`);
  try {
    return await withCacheLock(ctx.config.scanner.cache_dir, { logger: ctx.logger, signal: ctx.interrupt.signal, job: 'report' }, () => report(ctx, jobs));
  } catch (error) {
    if (error instanceof CacheLockedError) {
      ctx.logger.error(`report: ${error.message}`);
      return { exitCode: EXIT.filesFailed, json: { command: 'report', exitCode: EXIT.filesFailed, error: error.message, library: null } };
    }
    if (isAbortError(error, ctx.interrupt.signal)) return { exitCode: EXIT.interrupted, json: { command: 'report', exitCode: EXIT.interrupted, interrupted: true, library: null } };
    throw error;
  }
}

async function report(ctx: CliContext, jobs: Array<{ name: string; job: ScanJob }>): Promise<CommandResult> {
  const client = createOfflineClient('`civitscraper report` works offline; no CivitAI request is made');
  const outcomes: JobOutcome[] = [];
  for (const { name, job } of jobs) {
    if (ctx.interrupt.signal.aborted) break;
    // Records from what is stored (sidecars, ledger): no lookups, no previews, nothing written.
    const offlineJob: ScanJob = { ...job, use_cached_metadata: true };
    outcomes.push(
      await runScanStep(ctx, name, offlineJob, { organize: 'never', client, forceDryRun: true, ...(jobs.length > 1 ? { label: name } : {}) }),
    );
  }
  let exitCode = exitCodeFor(ctx, outcomes);
  const run = runJson(ctx, outcomes, exitCode);
  if (exitCode === 130 || outcomes.some((outcome) => !outcome.records)) return { exitCode, json: { ...run, library: null } };
  try {
    const library = await buildLibraryReport({
      config: ctx.config,
      jobs: outcomes.map((outcome, index) => ({
        name: outcome.name,
        job: (jobs[index] as { job: ScanJob }).job,
        records: withoutOrganizedViews(outcome.records ?? [], (jobs[index] as { job: ScanJob }).job),
        errors: outcome.report?.errors ?? [],
      })),
      logger: ctx.logger,
      signal: ctx.interrupt.signal,
    });
    if (!ctx.args.json) ctx.out(formatLibraryReport(library));
    return { exitCode, json: { ...library, command: 'report', exitCode } };
  } catch (error) {
    if (!isAbortError(error, ctx.interrupt.signal)) throw error;
    exitCode = 130;
    return { exitCode, json: { ...run, exitCode, interrupted: true, library: null } };
  }
}

/** Copies and links in the organized tree are a view of the library, not duplicates (as the engine sees them). */
function withoutOrganizedViews(records: readonly ModelRecord[], job: ScanJob): ModelRecord[] {
  const organization = job.organization;
  if (!organization.enabled || organization.operation_mode === 'move') return [...records];
  return records.filter((record) => {
    const relative = path.relative(resolveOutputRoot(organization.output_dir, record.file.path), record.file.path);
    return relative === '' || relative.startsWith('..') || path.isAbsolute(relative);
  });
}
