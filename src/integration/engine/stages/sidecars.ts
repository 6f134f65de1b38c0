import type { RunContext } from '../run.ts';
import { writeModelSidecars } from '../sidecars/write.ts';

/** Writes the sidecars of what this run looked up, then reports every item's problems. */
export async function writeSidecars(ctx: RunContext): Promise<void> {
  const { job, report, dryRun } = ctx;
  for (const [index, item] of ctx.items.entries()) {
    const record = ctx.records[index];
    if (!record) continue;
    const canWrite = item.sidecar.kind !== 'foreign' && item.sidecar.kind !== 'unreadable';
    if (item.version && canWrite) {
      record.sidecarPath = item.layout.metadataPath;
      // A good sidecar is never replaced by what a failing run could gather.
      const keepGood = item.incomplete === true && item.sidecar.kind === 'own' && !item.sidecar.stored.incomplete;
      if (item.fresh && !dryRun && record.civitai.status === 'identified' && !keepGood) {
        const written = await writeModelSidecars({
          record,
          version: item.version,
          layout: item.layout,
          existing: item.sidecar,
          compat: job.output.compat,
          incomplete: item.incomplete === true,
        });
        report.sidecars.written += written.written;
        report.sidecars.unchanged += written.unchanged;
        item.problems.push(...written.problems);
      }
    }
    for (const problem of item.problems) report.warn(item.file.path, problem.stage, problem.message);
  }
}
