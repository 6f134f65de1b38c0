import path from 'node:path';
import { applyPlan, formatPlanTable, planOrganization, recoverIncompleteRuns, relocateRecord } from '../organize/index.ts';
import type { RunContext } from '../run.ts';

/**
 * The seed's organization phase, after sidecars exist so they move with their model. A crash
 * in an earlier run is rolled back first; in move mode the records follow their files.
 *
 * Only planned (nothing moved, copied or linked, no journal, no recovery) in a dry run, when the
 * job's `organization.dry_run` is set, and when the caller asked for `organize: 'plan'` (the
 * Astro integration: building or serving the site never changes the library).
 */
export async function organize(ctx: RunContext): Promise<void> {
  const { config, job, dryRun, report, log } = ctx;
  if (!job.organization.enabled) return;
  const records = ctx.records;
  const plan = planOrganization(
    records.filter((record) => record.civitai.status === 'identified' || record.version),
    { organization: job.organization, output: job.output, nsfwThreshold: config.api.nsfw.level_threshold },
  );
  ctx.organizePlan = plan;
  for (const warning of plan.warnings) report.warn(plan.outputDir, 'organize', warning);
  if (dryRun || job.organization.dry_run || ctx.organize === 'plan') {
    report.organize = { mode: plan.mode, planned: plan.units.length, done: 0, skipped: 0, failed: 0 };
    if (dryRun) {
      log.info(`organize (dry run):\n${formatPlanTable(plan)}`);
    } else if (job.organization.dry_run) {
      // A warning, so that a front end drawing progress (which turns our info lines into debug) shows it.
      const why = 'organization.dry_run is true for this job: nothing was moved, copied or linked; set it to false to organize';
      report.warn(plan.outputDir, 'organize', why);
      log.warn(`organize: ${why}. The plan:\n${formatPlanTable(plan)}`);
    } else {
      log.info(`organize: ${plan.units.length} planned, not applied (run \`civitscraper organize\` to apply the plan)`);
    }
    return;
  }
  const journalDir = path.join(path.resolve(config.scanner.cache_dir), 'organize-journal');
  await recoverIncompleteRuns(journalDir);
  // Files replaced under `collision: overwrite` are kept, so that undo can bring them back.
  const result = await applyPlan(plan, { journalDir, logger: log, keepTrash: true });
  if (result.trashDir) {
    report.warn(
      plan.outputDir,
      'organize',
      `the files this run overwrote are kept in ${result.trashDir} (\`civitscraper organize --undo\` restores them); delete that folder to free the space`,
    );
  }
  for (const problem of result.problems) report.warn(plan.outputDir, 'organize', problem);
  const byId = new Map(records.map((record) => [record.id, record]));
  for (const unit of result.units) {
    if (unit.status !== 'failed') continue;
    report.fail(byId.get(unit.recordId)?.file.path ?? plan.outputDir, 'organize', unit.reason ?? 'could not be organized');
  }
  report.organize = {
    mode: plan.mode,
    planned: plan.units.length,
    done: result.counts.done + result.counts['in-place'],
    skipped: result.counts.skipped,
    failed: result.counts.failed,
    ...(result.runId ? { runId: result.runId } : {}),
  };
  log.info(`organize: ${report.organize.done} organized (${plan.mode}), ${report.organize.skipped} skipped, ${report.organize.failed} failed`);
  const moved = new Map(result.relocations.map((relocation) => [relocation.recordId, relocation]));
  ctx.records = records.map((record) => {
    const relocation = moved.get(record.id);
    return relocation ? relocateRecord(record, relocation) : record;
  });
}
