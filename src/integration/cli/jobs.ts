/**
 * Running one job on the engine, the same way for every command: scan-paths jobs through
 * `runScanJob` (which organizes when the job says so), sync-lora-triggers jobs through
 * `runSyncLoraTriggersJob`. Failures are collected, never thrown: one job failing does not stop
 * the next (as in the seed); only Ctrl-C does.
 */
import path from 'node:path';
import type { CivitaiClient } from '../engine/civitai/client.ts';
import type { Job, ScanJob, SyncLoraTriggersJob } from '../engine/config/index.ts';
import { runScanJob } from '../engine/run.ts';
import { withYoungGenerationHeld } from '../engine/util/young-generation.ts';
import { reportToJson, type RunReport } from '../engine/report.ts';
import type { KritaSyncReport } from '../engine/krita/index.ts';
import { formatPlanTable, writePlanJson, type OrganizePlan } from '../engine/organize/index.ts';
import type { ModelRecord } from '../engine/records/schema.ts';
import type { CliContext } from './context.ts';
import { messageOf } from './exit.ts';
import { isAbortError } from './interrupt.ts';

export interface JobOutcome {
  name: string;
  type: Job['type'];
  report?: RunReport;
  records?: ModelRecord[];
  /** The organize plan written as JSON (dry run). */
  planFile?: string;
  krita?: KritaSyncReport;
  /** What stopped the job, when something did (not a per-file failure). */
  error?: string;
  /** The error was in the user's setup (no loras.json, organize not enabled…): exit 2 if alone. */
  usageError?: boolean;
  interrupted: boolean;
}

/** The folder of organize journals (one for every job), beside the state store: where the engine keeps them. */
export function journalDir(ctx: CliContext): string {
  return path.join(path.resolve(ctx.config.scanner.cache_dir), 'organize-journal');
}

export function planFile(ctx: CliContext, jobName: string): string {
  return path.join(ctx.config.scanner.cache_dir, `organize-plan-${jobName.replace(/[^\w.-]+/g, '_')}.json`);
}

/** Stages whose errors are about a model file itself (empty, unreadable, corrupt, a broken link). */
const UNREADABLE_STAGES = new Set(['discover', 'hash']);

/**
 * Whether the job failed. With `unreadable: 'warn'`, a library that merely holds files that are
 * not readable models (a 0-byte download, a broken link) does not fail every cron run forever.
 */
export function jobFailed(outcome: JobOutcome, unreadable: 'fail' | 'warn' = 'fail'): boolean {
  const errors = outcome.report?.errors ?? [];
  const failing = unreadable === 'warn' ? errors.filter((entry) => !UNREADABLE_STAGES.has(entry.stage)).length : (outcome.report?.files.failed ?? 0);
  return outcome.error !== undefined || failing > 0 || outcome.krita?.outcome === 'changed-on-disk';
}

export interface ScanStepOptions {
  /**
   * `job`: organize when the job's organization is enabled (the engine does it, as in the seed);
   * `always`: the `organize` command (enabled for this run; without --dry-run the config must
   * enable it, so a stray `organize` never moves a library); `never`: no organizing.
   */
  organize: 'job' | 'always' | 'never';
  label?: string;
  /** Use this client (the offline one for `report`). */
  client?: CivitaiClient;
  /** Runs the engine in dry-run mode whatever the flags say (`report`). */
  forceDryRun?: boolean;
}

export async function runScanStep(ctx: CliContext, name: string, configured: ScanJob, options: ScanStepOptions): Promise<JobOutcome> {
  const { logger } = ctx;
  const outcome: JobOutcome = { name, type: 'scan-paths', interrupted: false };
  const dryRun = options.forceDryRun === true || ctx.dryRun;
  let job = configured;
  if (options.organize === 'never' && job.organization.enabled) job = { ...job, organization: { ...job.organization, enabled: false } };
  if (options.organize === 'always' && !job.organization.enabled) {
    if (!dryRun) {
      outcome.error = `organization is not enabled for job "${name}": set jobs.${name}.organization.enabled: true (preview first with --dry-run)`;
      outcome.usageError = true;
      logger.error(outcome.error);
      return outcome;
    }
    job = { ...job, organization: { ...job.organization, enabled: true } };
  }
  const progress = ctx.progress(options.label);
  let plan: OrganizePlan | undefined;
  try {
    // The CLI is a process of its own, so it may tune V8 for a run's many long-lived objects.
    const { records, report, organizePlan } = await withYoungGenerationHeld(() =>
      runScanJob({
        config: ctx.config,
        jobName: name,
        job,
        logger,
        dryRun,
        ...(ctx.args.forceRefresh ? { forceRefresh: true } : {}),
        ...(options.client ? { client: options.client } : {}),
        onProgress: progress.onProgress,
        signal: ctx.interrupt.signal,
      }),
    );
    outcome.records = records;
    outcome.report = report;
    plan = organizePlan;
  } catch (error) {
    // An engine that stops on Ctrl-C by throwing may hand over what it did so far.
    const partial = (error as { report?: RunReport } | undefined)?.report;
    if (partial && typeof partial === 'object' && 'files' in partial) outcome.report = partial;
    if (isAbortError(error, ctx.interrupt.signal)) {
      outcome.interrupted = true;
    } else {
      outcome.error = messageOf(error);
      logger.error(`job "${name}" stopped: ${outcome.error}`);
      logger.debug((error as Error)?.stack ?? String(error));
    }
  } finally {
    progress.close();
  }
  if (ctx.interrupt.signal.aborted) outcome.interrupted = true;
  for (const entry of outcome.report?.errors ?? []) logger.error(`${entry.stage}: ${entry.path}: ${entry.message}`);
  const runId = outcome.report?.organize?.runId;
  if (runId) logger.info(`organize: run ${runId}; undo it with \`civitscraper organize --undo ${runId}\``);
  if (plan && dryRun && !outcome.interrupted) {
    // The plan is the command's result: on stdout, so `> plan.txt` keeps it (logs go to stderr).
    if (ctx.args.json) ctx.logger.info(`organize (dry run):\n${formatPlanTable(plan)}`);
    else ctx.out(`organize (dry run):\n${formatPlanTable(plan)}\n`);
    await writeOrganizePlan(ctx, outcome, plan);
  }
  return outcome;
}

/**
 * A dry run prints the organize plan as a table; the CLI also writes it as JSON beside the
 * state store, for scripts and for review before the real run.
 */
async function writeOrganizePlan(ctx: CliContext, outcome: JobOutcome, plan: OrganizePlan): Promise<void> {
  const file = planFile(ctx, outcome.name);
  try {
    await writePlanJson(plan, file);
    outcome.planFile = file;
    ctx.logger.info(`organize: plan written to ${file}`);
  } catch (error) {
    ctx.logger.warn(`organize: could not write the plan to ${file}: ${messageOf(error)}`);
  }
}

export interface SyncStepOptions {
  lorasFile?: string;
}

export async function runSyncStep(ctx: CliContext, name: string, job: SyncLoraTriggersJob, options: SyncStepOptions = {}): Promise<JobOutcome> {
  const { logger } = ctx;
  const outcome: JobOutcome = { name, type: 'sync-lora-triggers', interrupted: false };
  const effective: SyncLoraTriggersJob = options.lorasFile ? { ...job, loras_file: path.resolve(options.lorasFile) } : job;
  // Loaded here: a scan that has no Krita job never needs it.
  const { KritaSyncError, runSyncLoraTriggersJob } = await import('../engine/krita/index.ts');
  try {
    const report = await runSyncLoraTriggersJob({
      config: ctx.config,
      jobName: name,
      job: effective,
      logger,
      dryRun: ctx.dryRun,
      force: ctx.args.force,
    });
    outcome.krita = report;
    // The diff of a dry run is the command's result: on stdout (the sync logs its summary).
    if (report.outcome === 'dry-run' && report.diff && !ctx.args.json) ctx.out(report.diff.endsWith('\n') ? report.diff : `${report.diff}\n`);
    if (report.outcome === 'changed-on-disk') {
      logger.error(`krita: ${report.lorasFile} was not written (Krita changed it while we worked); close Krita and rerun, or add --force`);
    }
  } catch (error) {
    if (isAbortError(error, ctx.interrupt.signal)) {
      outcome.interrupted = true;
    } else {
      outcome.error = messageOf(error);
      outcome.usageError = error instanceof KritaSyncError && /no Krita AI Diffusion loras\.json found|ENOENT|does not exist|not found/i.test(outcome.error);
      logger.error(error instanceof KritaSyncError ? outcome.error : `job "${name}": ${outcome.error}`);
    }
  }
  if (ctx.interrupt.signal.aborted) outcome.interrupted = true;
  return outcome;
}

/** The job as JSON for --report / --json: the run report's fields, plus what organize and Krita did. */
export function outcomeToJson(outcome: JobOutcome): Record<string, unknown> {
  // Without a run report (stopped before it had one, or a sync job): no made-up counts.
  const base: Record<string, unknown> = outcome.report ? reportToJson(outcome.report) : { job: outcome.name, errors: [], warnings: [] };
  const errors = [...((base.errors as unknown[]) ?? [])];
  if (outcome.error !== undefined) errors.push({ path: '', stage: outcome.type === 'sync-lora-triggers' ? 'krita' : 'job', message: outcome.error });
  if (outcome.krita?.outcome === 'changed-on-disk') {
    errors.push({ path: outcome.krita.lorasFile, stage: 'krita', message: 'changed on disk while we worked; nothing written' });
  }
  return {
    ...base,
    type: outcome.type,
    errors,
    ...(outcome.interrupted ? { interrupted: true } : {}),
    ...(outcome.planFile && base.organize ? { organize: { ...(base.organize as object), planFile: outcome.planFile } } : {}),
    ...(outcome.krita ? { krita: outcome.krita } : {}),
  };
}
